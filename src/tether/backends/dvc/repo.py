"""DVC's Repo object and what tether asks of it: the stages in order, the paths a
commit must hold, staleness, DVC's lock, and the errors DVC raises."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tether.errors import ExternalError, NotATetherRepo

if TYPE_CHECKING:
    from dvc.repo import Repo

LOCK_FILE = "dvc.lock"
PIPELINE_FILE = "dvc.yaml"
PARAMS_FILE = "params.yaml"


def require_dvc(root: Path) -> None:
    if not (root / ".dvc").is_dir():
        raise NotATetherRepo(
            f"{root} has no .dvc directory: DVC is not initialised here",
            "Run `dvc init` and commit the result.",
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


def exception_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from, outermost first."""
    chain = [exc]
    while chain[-1].__cause__ is not None:
        chain.append(chain[-1].__cause__)
    return chain


@contextmanager
def log_level(level: int) -> Iterator[None]:
    import logging

    log = logging.getLogger("dvc")
    before = log.level
    log.setLevel(level)
    try:
        yield
    finally:
        log.setLevel(before)


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


def raise_if_locked(repo: Repo, exc: BaseException) -> None:
    from dvc.lock import LockError

    if any(isinstance(c, LockError) for c in exception_chain(exc)) and "rwlock" not in str(exc):
        root = Path(repo.root_dir)
        raise DvcLocked(root, _lock_files(root)) from None


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


def stage_status(repo: Repo) -> dict[str, list[Any]]:
    """DVC's own staleness verdict: ``{stage: [reasons]}`` for stages out of date."""
    try:
        return repo.status()
    except dvc_error_types() as exc:
        raise_if_locked(repo, exc)
        raise ExternalError(f"dvc status failed: {exc}") from None


def ignore_checker(repo: Repo) -> Any:
    """A predicate telling whether .dvcignore excludes a path."""
    ignore = repo.dvcignore
    return lambda path: ignore.is_ignored_file(os.path.abspath(path))


def stage_label(repo: Repo, stage: Any) -> str:
    """A stage's name as a user writes it from the repo root (``train``, or
    ``sub/dvc.yaml:train`` for a pipeline file elsewhere)."""
    file = Path(stage.path).resolve().relative_to(Path(repo.root_dir).resolve()).as_posix()
    return stage.name if file == PIPELINE_FILE else f"{file}:{stage.name}"


@dataclass(frozen=True)
class TrackedOutput:
    """One output DVC tracks, as recorded at the checked-out commit."""

    path: str  # relative to the repo root, POSIX separators
    stage: str | None  # addressing of the stage that writes it; None for `dvc add` data
    md5: str | None  # recorded hash (``<md5>.dir`` for directories); None if never recorded
    cached: bool  # False for ``cache: false`` outputs (kept in git)
    metric: bool


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
