"""``tether check``: is this workspace exactly reproducible from what Git holds?

Four questions, each answered from the bytes rather than from timestamps:

1. Is params.yaml the composition of conf/ plus the recorded overrides?
2. Is every stage up to date with dvc.lock (command, params, deps, outs)?
3. Does every output's content hash to what dvc.lock records?
4. Are the files stages depend on (and conf/, dvc.yaml, dvc.lock) committed?
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from tether import dvcfiles
from tether.backends import dvc, hashing
from tether.backends.git import GitRepo
from tether.errors import TetherError
from tether.pipeline import compose as composing
from tether.pipeline.overrides import OVERRIDES_FILE, load_overrides


class ProblemKind(StrEnum):
    """Which of check's questions a problem answers no to."""

    PARAMS = "params"  # params.yaml is not the composition
    STALE = "stale"  # a stage is out of date with dvc.lock
    OUTPUT = "output"  # an output does not hash to what dvc.lock records
    DATA = "data"  # data added with `dvc add` differs from its .dvc file
    UNCOMMITTED = "uncommitted"  # a file the pipeline needs is not committed
    CONFIG = "config"  # conf/ or DVC's config is invalid


@dataclass(frozen=True)
class Problem:
    """One reason the workspace is not reproducible, and the command that fixes it."""

    kind: ProblemKind
    subject: str
    message: str
    fix: str


@dataclass
class CheckResult:
    root: str
    commit: str | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def reproducible(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "reproducible": self.reproducible,
            "commit": self.commit,
            "problems": [asdict(p) for p in self.problems],
        }


def _check_params(root: Path) -> list[Problem]:
    settings = dvc.hydra_settings(root)
    if not settings.enabled:
        return []
    try:
        overrides = load_overrides(root)
        expected = composing.compose(root, overrides)
    except TetherError as exc:
        return [
            Problem(
                ProblemKind.CONFIG,
                "conf/",
                exc.message,
                exc.hint or "Fix conf/, then run `tether run`.",
            )
        ]
    params = root / dvc.PARAMS_FILE
    actual = params.read_bytes() if params.exists() else None
    if actual == expected.content:
        return []
    shown = " ".join(overrides) if overrides else "no overrides"
    if actual is None:
        message = "params.yaml is missing"
    else:
        message = f"params.yaml is not the composition of conf/ with {shown}"
    return [Problem(ProblemKind.PARAMS, dvc.PARAMS_FILE, message, "tether run")]


def _describe(reason: Any) -> str:
    if isinstance(reason, str):
        return reason
    parts = []
    for kind, changes in reason.items():
        if isinstance(changes, dict):
            items: list[str] = []
            for path, status in changes.items():
                if isinstance(status, dict):
                    items.extend(f"{path}:{key} {state}" for key, state in status.items())
                else:
                    items.append(f"{path} {status}")
            parts.append(f"{kind}: {', '.join(items)}")
        else:
            parts.append(f"{kind}: {changes}")
    return "; ".join(parts)


def _check_stages(root: Path) -> tuple[list[Problem], list[str]]:
    """Staleness per DVC plus our own hashing of every recorded dep and out.

    Returns the problems and the paths that must be committed (for the git check):
    see ``dvc.versioned_paths``. Outputs kept in Git (``cache: false``) are among
    them: a commit's metrics must not disagree with its own dvc.lock.
    """
    problems: list[Problem] = []
    with dvc.open_repo(root) as repo:
        stale = dvc.stage_status(repo)
        ignored = dvc.ignore_checker(repo)
        git_paths: set[str] = {dvc.PIPELINE_FILE, dvc.LOCK_FILE}
        for path in dvc.versioned_paths(repo):
            absolute = Path(path).resolve()
            if absolute.is_relative_to(root.resolve()):
                git_paths.add(absolute.relative_to(root.resolve()).as_posix())

    for name, reasons in sorted(stale.items()):
        if name.endswith(".dvc"):
            # Data tracked with `dvc add`: the .dvc file and the data disagree.
            problems.append(_data_problem(name, reasons))
            continue
        stage = name.split(":")[-1]
        problems.append(
            Problem(
                ProblemKind.STALE,
                stage,
                f"stage {stage!r} is out of date with dvc.lock: "
                + "; ".join(_describe(r) for r in reasons),
                "tether run",
            )
        )
    stale_stages = {name.split(":")[-1] for name in stale}

    cache = dvc.cache_dir(root)
    locked = [s for s in dvcfiles.read(root).stages if s.locked]
    for entry in sorted(locked, key=lambda s: s.name):
        stage = entry.name.split(":")[-1]
        # Outputs are always hashed, so a changed file is named even when DVC already
        # calls its stage stale; deps of a stale stage are covered by DVC's reason.
        roles = ("outs",) if stage in stale_stages else ("deps", "outs")
        for role in roles:
            for item in entry.outs if role == "outs" else entry.deps:
                recorded = item.md5
                if not recorded:
                    continue
                actual = hashing.output_md5(root / item.path, ignored)
                if actual == recorded:
                    continue
                what = "is missing" if actual is None else "differs from its hash in dvc.lock"
                fix = "tether run" if role == "deps" else _restore(cache, item.path, recorded)
                problems.append(
                    Problem(
                        ProblemKind.OUTPUT if role == "outs" else ProblemKind.STALE,
                        item.path,
                        f"{role[:-1]} {item.path} of stage {stage!r} {what}"
                        + (f" (recorded {recorded}, found {actual})" if actual else ""),
                        fix,
                    )
                )
    return problems, sorted(git_paths)


def _data_problem(name: str, reasons: list[Any]) -> Problem:
    """A ``.dvc`` file whose data differs: re-add changed data, pull missing data."""
    changed = {
        path: state
        for reason in reasons
        if isinstance(reason, dict)
        for path, state in (reason.get("changed outs") or {}).items()
    }
    modified = sorted(p for p, state in changed.items() if state == "modified")
    if modified:
        fix = f"dvc add {' '.join(modified)} (to record the new data), then commit {name}"
    else:
        fix = f"dvc pull {name} (or `dvc checkout {name}` if the cache has it)"
    described = "; ".join(_describe(r) for r in reasons)
    return Problem(
        ProblemKind.DATA, name, f"data tracked by {name} does not match it: {described}", fix
    )


def _restore(cache: Path, path: str, md5: str) -> str:
    """How to bring back an output: from the local cache when it is there, else from
    the DVC remote, else by running the pipeline."""
    cached = dvc.cached_file(cache, md5)
    if cached is not None and cached.exists():
        return f"dvc checkout {path}"
    return f"dvc pull {path} (or `tether run` to rebuild it)"


def _check_uncommitted(root: Path, git: GitRepo, git_paths: list[str]) -> list[Problem]:
    settings = dvc.hydra_settings(root)
    paths = set(git_paths) | {dvc.PARAMS_FILE, OVERRIDES_FILE.as_posix()}
    if settings.enabled and settings.config_dir is not None:
        paths.add(settings.config_dir.relative_to(root.resolve()).as_posix())
    changed = git.changed_paths(sorted(paths))
    problems = []
    for status, path in changed:
        state = "untracked" if status == "??" else "not committed"
        problems.append(
            Problem(
                ProblemKind.UNCOMMITTED,
                path,
                f"{path} is {state}",
                f"git add {path} && git commit",
            )
        )
    return problems


def check(root: Path) -> CheckResult:
    """Answer whether the workspace at ``root`` reproduces exactly from Git."""
    with GitRepo(root) as git:
        return _check(git, root)


def _check(git: GitRepo, root: Path) -> CheckResult:
    result = CheckResult(root=str(root), commit=git.head())
    if result.commit is None:
        result.problems.append(
            Problem(
                ProblemKind.UNCOMMITTED,
                "HEAD",
                "the repository has no commit yet",
                "git add -A && git commit",
            )
        )
    result.problems.extend(_check_params(root))
    stage_problems, git_paths = _check_stages(root)
    result.problems.extend(stage_problems)
    result.problems.extend(_check_uncommitted(root, git, git_paths))
    return result
