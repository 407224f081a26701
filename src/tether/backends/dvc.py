"""The one door to DVC. Nothing else in tether imports ``dvc``.

Importing ``dvc.repo`` costs about 0.4 s, so every import here happens inside the
function that needs it: commands that never touch a DVC repo object (``--help``,
diffs read straight from git) never pay for it.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tether.backends.hashing import file_md5
from tether.errors import ConfigError, ExternalError, NotATetherRepo, StageFailed

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


def preload() -> None:
    """Import what a pipeline run needs from DVC and Hydra (about 1.5 s), ahead of
    the first use: ``tether tune``'s workers do it while the sweep sets up."""
    import importlib

    for module in ("dvc.repo", "dvc.utils.hydra", "hydra", "omegaconf"):
        importlib.import_module(module)


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


def versioned_paths(repo: Repo) -> list[str]:
    """Every path Git must hold for the pipeline to be reproducible from a commit:
    each stage's file (dvc.yaml, or the ``.dvc`` file of data added with
    ``dvc add``), each pipeline stage's dependencies, each output (Git ignores the
    ones DVC caches), and the ``.gitignore`` DVC writes beside a cached output."""
    paths: list[str] = []
    for stage in repo.index.stages:
        paths.append(stage.path)
        if getattr(stage, "cmd", None):
            paths.extend(dep.fs_path for dep in stage.deps)
        for out in stage.outs:
            paths.append(out.fs_path)
            if out.use_cache:
                paths.append(os.path.join(os.path.dirname(out.fs_path), ".gitignore"))
    return paths


class DvcLocked(ExternalError):
    """DVC's repository lock is taken: by a DVC command running now, or left behind
    by one that was killed (``core.hardlink_lock`` locks are plain files that
    outlive their process)."""

    def __init__(self, root: Path, files: list[str]) -> None:
        listed = " ".join(files) or ".dvc/tmp/lock"
        super().__init__(
            f"DVC's lock on {root} is taken ({listed})",
            "If a dvc command is running here, wait for it; if none is (the lock was "
            f"left by a killed process), remove it: `rm -f {listed}`.",
        )
        self.files = files


def _lock_files(root: Path) -> list[str]:
    """DVC's repository lock and, for a hardlink lock, the claim file it links to."""
    tmp = root / ".dvc" / "tmp"
    lock = tmp / "lock"
    if not lock.exists():
        return []
    found = [lock]
    if lock.stat().st_nlink > 1:  # flufl.lock: the lock is a hard link to a claim file
        inode = lock.stat().st_ino
        found += [p for p in tmp.glob("*.lock") if p.stat().st_ino == inode]
    return [p.relative_to(root).as_posix() for p in found]


def _raise_if_locked(repo: Repo, exc: BaseException) -> None:
    from dvc.lock import LockError

    if any(isinstance(c, LockError) for c in _causes(exc)) and "rwlock" not in str(exc):
        root = Path(repo.root_dir)
        raise DvcLocked(root, _lock_files(root)) from None


def stage_status(repo: Repo) -> dict[str, list[Any]]:
    """DVC's own staleness verdict: ``{stage: [reasons]}`` for stages out of date."""
    try:
        return repo.status()
    except dvc_error_types() as exc:
        _raise_if_locked(repo, exc)
        raise ExternalError(f"dvc status failed: {exc}") from None


@contextmanager
def interpreter_first_on_path(env_bin: Path | None = None) -> Iterator[None]:
    """Stage commands say ``python``: make that the interpreter tether runs in, so a
    pipeline started from a virtual environment runs in it even when not activated.

    With ``env_bin`` (a replayed environment's ``bin``), stage commands run in that
    environment instead, as if it were activated: its ``python`` and scripts come
    first on PATH, and no PYTHONPATH, PYTHONHOME or user site-packages of the
    calling environment reach them (a stage still sets its own PYTHONPATH).
    """
    import sys

    saved = {key: os.environ.get(key) for key in _REPLAY_VARIABLES}
    first = str(env_bin) if env_bin else os.path.dirname(sys.executable)
    os.environ["PATH"] = os.pathsep.join([first, saved["PATH"] or ""])
    if env_bin is not None:
        os.environ["VIRTUAL_ENV"] = str(env_bin.parent)
        os.environ["PYTHONNOUSERSITE"] = "1"
        os.environ.pop("PYTHONPATH", None)
        os.environ.pop("PYTHONHOME", None)
        # uv installs without compiling (compiling every module would cost more than a
        # replay's build); the stages' interpreter writes the bytecode of what they
        # import into the replayed environment once, instead of compiling it again in
        # every stage of every verify where PYTHONDONTWRITEBYTECODE is set.
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_REPLAY_VARIABLES = (
    "PATH",
    "VIRTUAL_ENV",
    "PYTHONNOUSERSITE",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONDONTWRITEBYTECODE",
)


# DVC's progress lines that tether's own progress says already ("[2/4] prepare up
# to date", "[3/4] train ...", "[1/4] ingest restored from DVC's run-cache"), by
# their format strings (dvc/stage/__init__.py, dvc/stage/run.py, dvc/dvcfile.py,
# dvc/stage/cache.py). The command line DVC echoes ("> python ...") and everything
# a stage prints still show.
_ECHOED = frozenset(
    {
        "Stage '%s' didn't change, skipping",
        "'%s' didn't change, skipping",
        "Running stage '%s':",
        "Updating lock file '%s'",
    }
)
_RESTORED = "Stage '%s' is cached - skipping run, checking out outputs"
_ECHO_LOGGERS = ("dvc.stage", "dvc.stage.run", "dvc.dvcfile", "dvc.stage.cache")


@contextmanager
def _without_echoes(restored: list[str]) -> Iterator[None]:
    """Leave DVC's echoes out while inside; a stage DVC restored from its run-cache
    instead of running is appended to ``restored``."""
    import logging

    def keep(record: logging.LogRecord) -> bool:
        if record.msg == _RESTORED:
            restored.append(str(record.args))
            return False
        return record.msg not in _ECHOED

    loggers = [logging.getLogger(name) for name in _ECHO_LOGGERS]
    for log in loggers:
        log.addFilter(keep)
    try:
        yield
    finally:
        for log in loggers:
            log.removeFilter(keep)


def reproduce_stage(
    repo: Repo, addressing: str, force: bool = False
) -> Literal["ran", "restored", "up to date"]:
    """Reproduce one stage: "ran" when its command ran, "restored" when DVC took its
    outputs from the run-cache (the same deps and params ran before), "up to date"
    when nothing needed doing.

    Raises StageFailed when the stage's command exited non-zero, ExternalError when
    DVC itself failed (a missing dependency, the cache...), DvcLocked for its lock.
    """
    restored: list[str] = []
    try:
        with interpreter_first_on_path(), _without_echoes(restored):
            done = repo.reproduce(addressing, single_item=True, force=force)
    except dvc_error_types() as exc:
        _raise_if_locked(repo, exc)
        causes = _causes(exc)
        # DVC's outer message is "failed to reproduce 'X'"; the reason is inside.
        message = f"stage {addressing!r} failed: {causes[-1]}"
        if any(_command_failed(c) for c in causes):
            raise StageFailed(message) from None
        raise ExternalError(message) from None
    if not done:
        return "up to date"
    return "restored" if restored else "ran"


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from, outermost first."""
    chain = [exc]
    while chain[-1].__cause__ is not None:
        chain.append(chain[-1].__cause__)
    return chain


def ignore_checker(repo: Repo) -> Any:
    """A predicate telling whether .dvcignore excludes a path."""
    ignore = repo.dvcignore
    return lambda path: ignore.is_ignored_file(os.path.abspath(path))


# --- model registry (tether.release.actions) ---------------------------------------


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


@dataclass(frozen=True)
class CorruptObject:
    """A cache object whose bytes do not hash to its name."""

    oid: str  # the name (``<md5>`` or ``<md5>.dir``)
    location: str  # the file in the cache
    actual: str  # what its bytes hash to
    owner: str  # the output it belongs to (``path`` or ``path (a file inside)``)


def corrupted_in_cache(cache: Path, owners: dict[str, str]) -> list[CorruptObject]:
    """Rehash the local cache objects ``{oid: output path}`` and return the ones whose
    bytes do not match their name. Objects not in the cache are not judged here
    (a missing object is found by whatever needs it); a directory object brings
    the objects of the files it lists.

    DVC itself trusts an object once its state database has seen it (same inode,
    size and mtime), so a byte flipped in place goes unnoticed until someone
    downloads it; this reads every byte.
    """
    import json

    found: list[CorruptObject] = []
    queue = [(oid, owner) for oid, owner in owners.items()]
    seen: set[str] = set()
    while queue:
        oid, owner = queue.pop(0)
        if oid in seen:
            continue
        seen.add(oid)
        path = cached_file(cache, oid)
        if path is None or not path.is_file():
            continue
        actual = file_md5(path)
        if actual != oid.removesuffix(".dir"):
            found.append(CorruptObject(oid, str(path), actual, owner))
            continue
        if oid.endswith(".dir"):
            try:
                entries = json.loads(path.read_bytes())
            except ValueError:
                continue
            inside = owner if owner.endswith("(a file inside)") else f"{owner} (a file inside)"
            queue.extend((e["md5"], inside) for e in entries if isinstance(e, dict) and "md5" in e)
    return found


# verify: reproducing a commit in a clean worktree ---------------------------
#
# ``tether verify`` gives a temporary worktree its own empty cache, brings the
# objects it needs there itself (``copy_verified``), then forces every stage to
# run. The helpers below are the DVC side of that.

# A stage command killed by Ctrl-C (SIGINT) or SIGTERM: the shell reports 128+N,
# or the negative signal number when the command was exec'd directly.
_INTERRUPTED_STATUS = ("exited with -2", "exited with 130", "exited with -15", "exited with 143")


@dataclass(frozen=True)
class TrackedOutput:
    """One output DVC tracks, as recorded at the checked-out commit."""

    path: str  # relative to the repo root, POSIX separators
    stage: str | None  # addressing of the stage that writes it; None for `dvc add` data
    md5: str | None  # recorded hash (``<md5>.dir`` for directories); None if never recorded
    cached: bool  # False for ``cache: false`` outputs (kept in git)
    metric: bool


@dataclass
class ObjectCopy:
    """What ``copy_verified`` did with each object it was asked for."""

    copied: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    # oid -> (where the object lives in the source, the hash of the bytes found there)
    corrupted: dict[str, tuple[str, str]] = field(default_factory=dict)
    unreachable: str | None = None  # the error, when the source could not be read at all
    parents: dict[str, str] = field(default_factory=dict)  # file oid -> its directory's oid


def remote_settings(root: Path, name: str | None = None) -> tuple[str, dict[str, Any]]:
    """The name and merged settings (repo, local, global and system levels) of the
    remote ``name``, or of the default remote; ConfigError when there is none."""
    from dvc.config import Config
    from dvc.config import ConfigError as DvcConfigError

    require_dvc(root)
    try:
        config = Config(dvc_dir=str(root / ".dvc"))
    except DvcConfigError as exc:
        raise ConfigError(f".dvc/config is invalid: {exc}") from None
    chosen = name or config["core"].get("remote")
    remotes = config.get("remote", {})
    if not chosen or chosen not in remotes:
        what = f"no DVC remote named {chosen!r}" if chosen else "no default DVC remote"
        raise ConfigError(
            f"{what} in {root}",
            "Add one with `dvc remote add -d NAME URL` (see `dvc remote list`).",
        )
    # Loaded local paths are absolute already; str() drops DVC's RelPath marker so
    # they are written back absolute, not relative to the worktree's .dvc folder.
    settings = {
        key: str(value) if isinstance(value, str) else value
        for key, value in remotes[chosen].items()
    }
    return chosen, settings


def configure_clean_worktree(
    worktree: Path,
    cache_dir: Path,
    site_cache_dir: Path,
    remote: tuple[str, dict[str, Any]] | None,
) -> None:
    """Give a temporary worktree its own cache and state, and the remote to read.

    Written to the worktree's ``.dvc/config.local`` (never committed, removed with
    the worktree). The remote gets ``verify = true`` so DVC itself re-hashes any
    object it downloads.
    """
    from dvc.config import Config

    config = Config(dvc_dir=str(worktree / ".dvc"), validate=False)
    with config.edit("local") as local:
        local.setdefault("cache", {})["dir"] = str(cache_dir)
        local.setdefault("core", {})["site_cache_dir"] = str(site_cache_dir)
        if remote is not None:
            name, settings = remote
            local["core"]["remote"] = name
            local.setdefault("remote", {})[name] = {**settings, "verify": True}


def share_cache(worktree: Path, cache_dir: Path, site_cache_dir: Path) -> None:
    """Point a temporary worktree at the repository's cache ``cache_dir`` (tune:
    unchanged outputs are checked out from it, new ones are stored in it). Written
    to the worktree's ``.dvc/config.local``, which is never committed; the site
    cache (DVC's index and locks for the worktree's path) goes to ``site_cache_dir``."""
    from dvc.config import Config

    config = Config(dvc_dir=str(worktree / ".dvc"), validate=False)
    with config.edit("local") as local:
        local.setdefault("cache", {})["dir"] = str(cache_dir)
        local.setdefault("core", {})["site_cache_dir"] = str(site_cache_dir)


def apply_experiment(root: Path, rev: str) -> None:
    """``dvc exp apply REV``: the experiment's files into the work tree, and its
    outputs from the cache (nothing is run).

    DVC then points ``refs/exps/exec/EXEC_APPLY`` at the experiment; nothing in DVC
    3 reads it back (``Experiments._get_last_applied`` has no caller; ``dvc exp
    remove`` only deletes it), and a ref left there is listed by ``git for-each-ref``
    and pushed by a mirror push, so it is removed again."""
    from dvc.repo.experiments.apply import apply
    from dvc.repo.experiments.refs import EXEC_APPLY

    with open_repo(root) as repo:
        try:
            with _dvc_log_level(30):
                apply(repo, rev)
        except dvc_error_types() as exc:
            raise ExternalError(
                f"dvc exp apply failed: {_causes(exc)[-1]}",
                "Commit or stash your changes to params.yaml, dvc.lock and the metrics "
                "first, then try again.",
            ) from None
        finally:
            if repo.scm.get_ref(EXEC_APPLY) is not None:
                repo.scm.remove_ref(EXEC_APPLY)


def stage_label(repo: Repo, stage: Any) -> str:
    """A stage's name as a user writes it from the repo root (``train``, or
    ``sub/dvc.yaml:train`` for a pipeline file elsewhere)."""
    file = Path(stage.path).resolve().relative_to(Path(repo.root_dir).resolve()).as_posix()
    return stage.name if file == PIPELINE_FILE else f"{file}:{stage.name}"


def tracked_outputs(repo: Repo) -> list[TrackedOutput]:
    """Every output of the repo's stages and ``.dvc`` files, with recorded hashes."""
    root = Path(repo.root_dir).resolve()
    found = []
    for stage in repo.index.stages:
        maker = stage_label(repo, stage) if getattr(stage, "cmd", None) else None
        for out in stage.outs:
            if out.fs.protocol != "local":
                continue
            path = Path(out.fs_path).resolve()
            found.append(
                TrackedOutput(
                    path=path.relative_to(root).as_posix(),
                    stage=maker,
                    md5=out.hash_info.value if out.hash_info else None,
                    cached=bool(out.use_cache),
                    metric=bool(out.metric),
                )
            )
    return found


def remote_store(repo: Repo, name: str, legacy: bool = False) -> Any:
    """The object store of remote ``name``, as DVC opens it (URL, credentials...);
    ``legacy``: its DVC 2 layout (objects at the top, not under files/md5)."""
    return repo.cloud.get_remote_odb(name, hash_name="md5-dos2unix" if legacy else "md5")


def cache_store(repo: Repo, legacy: bool = False) -> Any:
    """The repo's local object cache (``legacy``: its DVC 2 layout)."""
    return repo.cache.legacy if legacy else repo.cache.local


def object_location(store: Any, oid: str) -> str:
    """Where an object lives in a store, as a URL-like string for messages."""
    path = store.oid_to_path(oid)
    protocol = getattr(store.fs, "protocol", "local")
    protocol = protocol[0] if isinstance(protocol, tuple) else protocol
    return path if protocol in ("local", "file") else f"{protocol}://{path}"


def copy_verified(source: Any, dest: Any, oids: Sequence[str]) -> ObjectCopy:
    """Copy objects from ``source`` to ``dest``, hashing every byte read.

    DVC's own fetch falls short here: to answer "does a local remote hold this
    object?" it re-hashes the object and deletes it when the hash does not match
    (dvc_data ``LocalHashFileDB.oids_exist`` -> ``check``), so a corrupted object
    would vanish from the remote before anyone sees it. Here nothing is deleted:
    an object whose bytes do not hash to its name is reported and left in place.
    Directory objects (``<md5>.dir``) bring the files they list along.
    """
    import hashlib
    import json
    import tempfile

    report = ObjectCopy()
    queue = list(dict.fromkeys(oids))
    seen: set[str] = set()
    while queue:
        oid = queue.pop(0)
        if oid in seen:
            continue
        seen.add(oid)
        target = Path(dest.oid_to_path(oid))
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.md5(usedforsecurity=False)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".tether-")
        try:
            with os.fdopen(fd, "wb") as out, source.fs.open(source.oid_to_path(oid), "rb") as src:
                while chunk := src.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
        except FileNotFoundError:
            os.unlink(temp)
            report.missing.append(oid)
            continue
        except Exception as exc:  # a remote that cannot be read at all
            os.unlink(temp)
            report.unreachable = f"{type(exc).__name__}: {exc}"
            report.missing.append(oid)
            report.missing.extend(o for o in queue if o not in seen)
            break
        actual = digest.hexdigest()
        if actual != oid.removesuffix(".dir"):
            os.unlink(temp)
            report.corrupted[oid] = (object_location(source, oid), actual)
            continue
        os.chmod(temp, 0o444)
        os.replace(temp, target)
        report.copied.append(oid)
        if oid.endswith(".dir"):
            entries = json.loads(target.read_bytes())
            for entry in entries:
                report.parents.setdefault(entry["md5"], oid)
                queue.append(entry["md5"])
    return report


def checkout(repo: Repo, targets: Sequence[str]) -> None:
    """Place ``targets`` in the workspace from the cache."""
    try:
        repo.checkout(targets=list(targets))
    except dvc_error_types() as exc:
        raise ExternalError(f"dvc checkout failed: {exc}") from None


def restore_outputs(repo: Repo) -> None:
    """``dvc checkout --force``: every output as dvc.lock records it, from the cache;
    an output already so is left alone. One the cache lacks stays as it is (its
    stage then runs, as in a fresh checkout)."""
    from dvc.exceptions import CheckoutError

    try:
        with _dvc_log_level(30):
            repo.checkout(force=True)
    except CheckoutError:
        pass


@contextmanager
def _stage_output_to(log: Path | None) -> Iterator[None]:
    """Send what stage commands print to ``log`` (both streams), or with no log
    to stderr, so stdout stays for tether's own output (``--json``). Done on the
    file descriptors, which the commands inherit from DVC."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    sink = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644) if log else 2
    try:
        os.dup2(sink, 1)
        os.dup2(sink, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        if log:
            os.close(sink)


@contextmanager
def _dvc_log_level(level: int) -> Iterator[None]:
    import logging

    log = logging.getLogger("dvc")
    before = log.level
    log.setLevel(level)
    try:
        yield
    finally:
        log.setLevel(before)


def reproduce_forced(
    repo: Repo, stage: Any, log: Path | None = None, env_bin: Path | None = None
) -> None:
    """Run one stage's command for real, whatever dvc.lock and the run-cache say.

    ``force=True`` is ``dvc repro --force``: DVC skips both its up-to-date check and
    the run-cache restore (dvc/stage/run.py ``run_stage``), so the command runs.
    ``no_commit`` keeps the outputs out of the cache: they are hashed by tether.
    What the command prints goes to ``log`` (appended), else to stderr. With
    ``env_bin`` the command runs in that environment (``interpreter_first_on_path``).
    """
    import logging

    try:
        with (
            interpreter_first_on_path(env_bin),
            _stage_output_to(log),
            _dvc_log_level(logging.WARNING),
        ):
            repo.reproduce(stage.addressing, single_item=True, force=True, no_commit=True)
    except dvc_error_types() as exc:
        causes = _causes(exc)
        if any(str(c).endswith(s) for c in causes for s in _INTERRUPTED_STATUS):
            raise KeyboardInterrupt from None
        detail = str(causes[-1])  # the innermost reason: "failed to run: CMD, exited with N"
        tail = ""
        if log and log.exists():
            lines = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
            tail = "\n" + "\n".join(f"  | {line}" for line in lines) if lines else ""
        name = stage_label(repo, stage)
        failed = StageFailed if any(_command_failed(c) for c in causes) else ExternalError
        raise failed(f"stage {name!r} failed: {detail}{tail}") from None


def _command_failed(exc: BaseException) -> bool:
    """Whether DVC raised ``exc`` because a stage's own command exited non-zero."""
    from dvc.stage.exceptions import StageCmdFailedError

    return isinstance(exc, StageCmdFailedError)


# monitor: a release's reference profile, kept beside its data -----------------


def store_object(root: Path, data: bytes, remote: str) -> str:
    """Put ``data`` in the local DVC cache under its md5 and push that one object to
    ``remote`` with DVC's own transfer; returns the md5.

    Release profiles are not outputs of any stage, so ``dvc push`` would not send
    them: this is the one object tether adds to the cache and the remote itself.
    """
    import hashlib

    from dvc_data.hashfile.hash_info import HashInfo

    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    with open_repo(root) as repo:
        target = Path(cache_store(repo).oid_to_path(md5))
        if not target.is_file():
            _write_read_only(target, data)
        failures: tuple[type[BaseException], ...] = (*dvc_error_types(), OSError)
        try:
            result = repo.cloud.push([HashInfo("md5", md5)], remote=remote)
        except failures as exc:
            raise ExternalError(
                f"dvc push of object {md5} to remote {remote!r} failed: {exc}",
                "Check the remote with `dvc remote list`, then release again.",
            ) from None
    if result.failed:
        raise ExternalError(
            f"remote {remote!r} did not accept object {md5}",
            "Check the remote with `dvc remote list`, then release again.",
        )
    return md5


def replace_object(root: Path, data: bytes, remote: str | None = None) -> list[str]:
    """Write ``data`` over every copy of its object: the local cache's (DVC 3 layout,
    and DVC 2's when one is there) and the one in ``remote`` (the default remote when
    None); returns where it wrote, for the message.

    ``store_object`` would not mend a corrupted copy: DVC's push asks the remote
    whether an object exists by name and skips it when it does, so bad bytes under
    the right name stay. The caller must have checked that ``data`` is right.
    """
    import hashlib

    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    written: list[str] = []
    try:
        name: str | None = remote_settings(root, remote)[0]
    except ConfigError:
        if remote is not None:
            raise
        name = None  # no default remote: only the local cache has a copy to mend
    with open_repo(root) as repo:
        for legacy in (False, True):
            target = Path(cache_store(repo, legacy=legacy).oid_to_path(md5))
            if legacy and not target.exists():
                continue
            _write_read_only(target, data)
            written.append(str(target))
        if name is None:
            return written
        store = remote_store(repo, name)
        path = store.oid_to_path(md5)
        protocol = getattr(store.fs, "protocol", "local")
        protocol = protocol[0] if isinstance(protocol, tuple) else protocol
        failures: tuple[type[BaseException], ...] = (*dvc_error_types(), OSError)
        try:
            if protocol in ("local", "file"):
                _write_read_only(Path(path), data)
            else:  # an object store replaces the whole object in one PUT
                store.fs.upload_fobj(io.BytesIO(data), path)
        except failures as exc:
            raise ExternalError(
                f"could not write object {md5} to DVC remote {name!r}: {exc}",
                "Check the remote with `dvc remote list` and your credentials, then retry.",
            ) from None
        written.append(f"DVC remote {name!r} ({object_location(store, md5)})")
    return written


def _write_read_only(target: Path, data: bytes) -> None:
    """Put ``data`` at ``target`` via a temporary file and a rename, read-only as DVC
    keeps its cache files (a rename replaces even a read-only file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".tether-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(temp, 0o444)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


# tether push: uploading the data of every release ------------------------------


@dataclass
class ObjectUpload:
    """What ``upload_verified`` did with each object it was asked for."""

    uploaded: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)  # the remote had it already
    missing: list[str] = field(default_factory=list)  # in neither the cache nor the remote
    corrupted: dict[str, str] = field(default_factory=dict)  # oid -> the hash of the cached bytes


def _md5_file(path: Path) -> str:
    import hashlib

    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def upload_verified(root: Path, remote: str, oids: Sequence[str]) -> ObjectUpload:
    """Upload to DVC remote ``remote`` every object of ``oids`` it lacks, from the
    local cache, hashing each one before it leaves (a corrupted cache copy is
    reported, never uploaded). Directory objects bring the files they list.

    DVC's own push falls short here: it trusts the cache's bytes, and it answers
    "what does the remote lack?" per revision, not per release. The remote is asked
    about all objects in one batch through its filesystem (concurrent requests on
    S3 and other cloud remotes), not through the object database, because DVC's
    check of a local remote deletes an object whose bytes do not match its name.
    Files are uploaded in one batch, then directory listings in another, so a
    listing never lands on the remote before the files it names.
    """
    report = ObjectUpload()
    with open_repo(root) as repo:
        store = remote_store(repo, remote)
        local = cache_store(repo)
        found = _cached_closure(cache_dir(root), oids)
        try:
            wanted = list(found)
            there = store.fs.exists([store.oid_to_path(oid) for oid in wanted])
            ready: list[tuple[str, Path]] = []
            for oid, present in zip(wanted, there, strict=True):
                path = found[oid]
                if present:
                    report.present.append(oid)
                elif path is None:
                    report.missing.append(oid)
                elif (actual := _md5_file(path)) != oid.removesuffix(".dir"):
                    report.corrupted[oid] = actual
                else:
                    ready.append((oid, path))
            for batch in (
                [(o, p) for o, p in ready if not o.endswith(".dir")],
                [(o, p) for o, p in ready if o.endswith(".dir")],
            ):
                if batch:
                    store.add(
                        [str(p) for _, p in batch],
                        local.fs,
                        [o for o, _ in batch],
                        check_exists=False,
                    )
                    report.uploaded += [o for o, _ in batch]
        except OSError as exc:
            raise ExternalError(
                f"DVC remote {remote!r} could not be written: {exc}",
                "Check the remote with `dvc remote list`, its path or credentials, then retry.",
            ) from None
    return report


def _cached_closure(cache: Path, oids: Sequence[str]) -> dict[str, Path | None]:
    """Every object of ``oids`` and the files their directory listings name, each
    with its file in the local cache (None: not there), in a stable order."""
    import json

    found: dict[str, Path | None] = {}
    queue = list(dict.fromkeys(oids))
    while queue:
        oid = queue.pop(0)
        if oid in found:
            continue
        path = next(
            (
                p
                for p in (cached_file(cache, oid), cached_file(cache, oid, legacy=True))
                if p is not None and p.is_file()
            ),
            None,
        )
        found[oid] = path
        if path is not None and oid.endswith(".dir"):
            try:
                queue.extend(str(e["md5"]) for e in json.loads(path.read_bytes()))
            except (ValueError, KeyError, TypeError):
                pass  # reported as corrupted: its bytes do not hash to its name
    return found
