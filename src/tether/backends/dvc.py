"""The one door to DVC. Nothing else in tether imports ``dvc``.

Importing ``dvc.repo`` costs about 0.4 s, so every import here happens inside the
function that needs it: commands that never touch a DVC repo object (``--help``,
diffs read straight from git) never pay for it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from tether.errors import ConfigError, ExternalError, NotATetherRepo

if TYPE_CHECKING:
    from dvc.repo import Repo

LOCK_FILE = "dvc.lock"
PIPELINE_FILE = "dvc.yaml"
PARAMS_FILE = "params.yaml"


@dataclass(frozen=True)
class HydraSettings:
    """The ``[hydra]`` section of DVC's config, with DVC's defaults filled in."""

    enabled: bool
    config_dir: Path | None
    config_module: str | None
    config_name: str
    plugins_path: Path


def require_dvc(root: Path) -> None:
    if not (root / ".dvc").is_dir():
        raise NotATetherRepo(
            f"{root} has no .dvc directory: DVC is not initialised here",
            "Run `dvc init` and commit the result.",
        )


def hydra_settings(root: Path) -> HydraSettings:
    """How DVC composes params.yaml with Hydra in the repo at ``root``."""
    from dvc.config import Config
    from dvc.config import ConfigError as DvcConfigError

    require_dvc(root)
    try:
        section = Config(dvc_dir=str(root / ".dvc")).get("hydra", {})
    except DvcConfigError as exc:
        raise ConfigError(f".dvc/config is invalid: {exc}") from None
    module = section.get("config_module")
    return HydraSettings(
        enabled=bool(section.get("enabled", False)),
        config_dir=None if module else root.resolve() / section.get("config_dir", "conf"),
        config_module=module,
        config_name=section.get("config_name", "config"),
        plugins_path=root.resolve() / section.get("plugins_path", ""),
    )


def compose_to(path: Path, settings: HydraSettings, overrides: Sequence[str]) -> None:
    """Write the composition to ``path`` with DVC's own composer, so the bytes are
    exactly those ``dvc exp run`` would write to params.yaml."""
    from dvc.utils.hydra import compose_and_dump

    compose_and_dump(
        path,
        str(settings.config_dir) if settings.config_dir else None,
        settings.config_module,
        settings.config_name,
        str(settings.plugins_path),
        list(overrides),
    )


@contextmanager
def open_repo(root: Path) -> Iterator[Repo]:
    """A DVC Repo object for ``root``, closed on exit."""
    from dvc.exceptions import NotDvcRepoError
    from dvc.repo import Repo

    require_dvc(root)
    try:
        repo = Repo(str(root))
    except NotDvcRepoError as exc:
        raise NotATetherRepo(str(exc), "Run `dvc init` and commit the result.") from None
    try:
        yield repo
    finally:
        repo.close()


def dvc_error_types() -> tuple[type[BaseException], ...]:
    from dvc.exceptions import DvcException

    return (DvcException,)


def pipeline_stages(repo: Repo) -> list[Any]:
    """Every pipeline stage in topological order (dependencies first)."""
    import networkx as nx

    # DVC's graph has an edge from each stage to the stages it depends on, so a
    # post-order walk yields every stage after the ones that feed it.
    return [s for s in nx.dfs_postorder_nodes(repo.index.graph) if getattr(s, "cmd", None)]


def quiet_git_hints(repo: Repo) -> None:
    """Stop DVC repeating its "To track the changes with git" advice after each
    stage; tether says once, at the end, what to commit."""
    repo.scm_context.quiet = True


def stage_status(repo: Repo) -> dict[str, list[Any]]:
    """DVC's own staleness verdict: ``{stage: [reasons]}`` for stages out of date."""
    try:
        return repo.status()
    except dvc_error_types() as exc:
        raise ExternalError(f"dvc status failed: {exc}") from None


@contextmanager
def interpreter_first_on_path() -> Iterator[None]:
    """Stage commands say ``python``: make that the interpreter tether runs in, so a
    pipeline started from a virtual environment runs in it even when not activated."""
    import sys

    before = os.environ.get("PATH", "")
    os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), before])
    try:
        yield
    finally:
        os.environ["PATH"] = before


def reproduce_stage(repo: Repo, addressing: str, force: bool = False) -> bool:
    """Reproduce one stage; True when its command ran, False when it was up to date."""
    try:
        with interpreter_first_on_path():
            done = repo.reproduce(addressing, single_item=True, force=force)
    except dvc_error_types() as exc:
        raise ExternalError(f"stage {addressing!r} failed: {exc}") from None
    return bool(done)


def ignore_checker(repo: Repo) -> Any:
    """A predicate telling whether .dvcignore excludes a path."""
    ignore = repo.dvcignore
    return lambda path: ignore.is_ignored_file(os.path.abspath(path))


def read_lock(root: Path) -> dict[str, Any]:
    """dvc.lock parsed, ``{}`` when the pipeline was never reproduced."""
    path = root / LOCK_FILE
    if not path.exists():
        return {}
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise ConfigError(f"dvc.lock is not valid YAML: {exc}") from None
    return data or {}


# --- model registry (tether.registry.release) ---------------------------------------


def default_remote(root: Path) -> str | None:
    """The name of the default DVC remote (``core.remote``), None when unset."""
    from dvc.config import Config
    from dvc.config import ConfigError as DvcConfigError

    require_dvc(root)
    try:
        config = Config(dvc_dir=str(root / ".dvc"))
    except DvcConfigError as exc:
        raise ConfigError(f".dvc/config is invalid: {exc}") from None
    return config.get("core", {}).get("remote") or None


def push_outputs(root: Path, remote: str) -> int:
    """Push every cached output of the workspace's pipeline to ``remote``; returns
    how many files were uploaded (0 when the remote had them all)."""
    # An unreachable local remote surfaces as a bare OSError from DVC's transfer.
    failures: tuple[type[BaseException], ...] = (*dvc_error_types(), OSError)
    with open_repo(root) as repo:
        try:
            return int(repo.push(remote=remote) or 0)
        except failures as exc:
            raise ExternalError(
                f"dvc push to remote {remote!r} failed: {exc}",
                "Check the remote with `dvc remote list` and that the outputs are in the cache "
                "(`dvc status -c`).",
            ) from None

# metrics: reading DVC-cached files without a Repo object --------------------
#
# ``tether diff`` and ``tether history`` read metric files that DVC stores in its
# cache straight from the cache directory, by the md5 dvc.lock records. Building a
# ``dvc.repo.Repo`` (about 0.4 s to import) for that would dominate their run time,
# so the cache layout is spelled out here, next to the rest of what tether knows
# about DVC.


def cache_dir(root: Path) -> Path:
    """The local DVC cache directory: ``cache.dir`` from .dvc/config.local or
    .dvc/config (relative to .dvc/), else .dvc/cache.

    Read with configparser rather than ``dvc.config.Config``, whose import alone
    costs about 0.1 s; only this one key is needed.
    """
    import configparser

    dvc_dir = root / ".dvc"
    for name in ("config.local", "config"):
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read(dvc_dir / name, encoding="utf-8")
        except configparser.Error:
            continue
        if parser.has_option("cache", "dir"):
            value = parser.get("cache", "dir").strip().strip("'\"")
            return (dvc_dir / os.path.expanduser(value)).resolve()
    return dvc_dir / "cache"


def cached_file(cache: Path, md5: str, legacy: bool = False) -> Path | None:
    """Where the cache keeps the object with hash ``md5``, None if ``md5`` is not
    a hash. DVC 3 outputs (``hash: md5`` in dvc.lock) live under ``files/md5/``;
    DVC 2 outputs directly under the cache directory."""
    md5 = md5.lower()
    digest = md5.removesuffix(".dir")
    if len(digest) < 3 or not all(c in "0123456789abcdef" for c in digest):
        return None
    base = cache if legacy else cache / "files" / "md5"
    return base / md5[:2] / md5[2:]
