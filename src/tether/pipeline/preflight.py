"""What ``tether run`` and ``tether check`` (and so ``tether release``) make sure of
before DVC reads anything: dvc.lock and the params files parse, and no params key is
written twice. DVC would otherwise fail deep inside (a traceback, or "dvc status
failed") or, for a key given both as ``"a.b"`` and nested ``a: {b: }``, silently read
one of the two. Each refusal names the file and the command that fixes it (exit 2),
before anything is written or run.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from tether import dvcfiles
from tether.errors import ConfigError, InvalidYaml
from tether.formats import DuplicateKey, FormatError, flatten, parse

# Params files tether can read as DVC does (Python params files are DVC's alone).
_READABLE = (".yaml", ".yml", ".json", ".toml")


def read_project(root: Path) -> dvcfiles.Project:
    """The work tree's pipeline files, parsed; a dvc.lock that cannot be read is an
    error naming the way back to the committed one."""
    try:
        return dvcfiles.read(root)
    except InvalidYaml as exc:
        if posixpath.basename(exc.path) != dvcfiles.LOCK_FILE:
            raise
        raise ConfigError(
            f"{exc.path} cannot be read ({exc.reason}); nothing was run",
            f"Bring back the committed one with `git checkout -- {exc.path}`, then run again.",
        ) from None


def _fix(name: str, composed: bool) -> str:
    if name == dvcfiles.PARAMS_FILE and composed:
        return "The composition of conf/ gives this: fix the key in conf/, then `tether run`."
    if name == dvcfiles.PARAMS_FILE:
        return (
            "`tether run` composes params.yaml again from conf/ (or `git checkout -- params.yaml`)."
        )
    return f"Fix {name} (or `git checkout -- {name}`), then run again."


def require_params(root: Path, project: dvcfiles.Project, params_yaml: bytes | None = None) -> None:
    """Refuse a params file that does not parse or names a key twice.

    ``params_yaml``: the params.yaml about to be written (``tether run`` checks the
    composition before writing it); None reads the file in the work tree.
    """
    names = [dvcfiles.PARAMS_FILE, *project.params_files]
    for name in dict.fromkeys(names):
        if not name.endswith(_READABLE) or dvcfiles.outside(name):
            continue
        composed = name == dvcfiles.PARAMS_FILE and params_yaml is not None
        if composed:
            data: bytes | None = params_yaml
        else:
            path = root / name
            data = path.read_bytes() if path.is_file() else None
        if data is None:
            continue
        try:
            flatten(parse(name, data))
        except FormatError as exc:
            raise ConfigError(
                f"{name} cannot be read: {exc}; nothing was run", _fix(name, composed)
            ) from None
        except DuplicateKey as exc:
            raise ConfigError(
                f"{name}: key {str(exc)!r} appears both nested and dotted, and DVC would "
                "read only one of them; nothing was run",
                _fix(name, composed),
            ) from None
