"""Every error tether raises on purpose, and the exit code each maps to.

    TetherError                 base; never raised directly      exit 2
    ├── UsageError              bad argument, override, name...  exit 2
    │   ├── UnknownRevision     a revision git cannot resolve    exit 2
    │   ├── LockError           a release's environment lock is  exit 2
    │   │                       corrupt or partial (tether.replay)
    │   └── InterpreterMissing  the recorded Python is not on    exit 2
    │                           this machine (tether.replay)
    ├── NotATetherRepo          not inside a git + DVC repo      exit 2
    ├── ConfigError             conf/, params.yaml, dvc.yaml     exit 2
    │   └── InvalidYaml         a YAML file that does not parse  exit 2
    ├── CheckFailed             a check or gate said no          exit 1
    │   ├── MetricsUnreadable   a metric file unreadable at a    exit 1
    │   │                       revision (tether.metrics)
    │   └── ForgedManifest      a release manifest that does not exit 1
    │                           describe its own tag
    ├── GitHubRefused           GitHub refused a request with a  exit 1
    │                           4xx (tether.report.github)
    ├── Interrupted             Ctrl-C or SIGTERM stopped it     exit 130
    │                           (a stage: tether.pipeline.run)   or 143
    ├── StageFailed             a stage's own command failed     exit 4
    │                           (tether run, tether verify)
    ├── NotBitExact             verify proved a rebuild only     exit 5
    │                           equivalent (bits cannot match on
    │                           this CPU or architecture)
    └── ExternalError           git, DVC or a remote failed      exit 3
        ├── WorkspaceBusy       another `tether run` holds the   exit 3
        │                       workspace (tether.pipeline.lock)
        ├── IntegrityError      cached/remote bytes do not hash  exit 3
        │                       to their md5 (tether.objects)
        └── ReplayInstallError  uv could not install a lock      exit 3
                                exactly (tether.replay)

Messages are written for the user: what went wrong, then (``hint``) what to run
next. The one place that turns them into stderr text and an exit code is
``tether.cli.main``; nothing else prints them.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_EXTERNAL = 3
EXIT_STAGE = 4
EXIT_EQUIVALENT = 5
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a process it stopped


class TetherError(Exception):
    """Base of every error tether raises for the user to read."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


class UsageError(TetherError):
    """A command-line argument or input value is not acceptable."""


class UnknownRevision(UsageError):
    """A revision that git cannot resolve to a commit."""

    def __init__(self, rev: str, hint: str | None = None) -> None:
        super().__init__(
            f"unknown revision {rev!r}",
            hint or "Name a branch, tag, commit or registry reference (NAME@vX.Y.Z, NAME#STAGE).",
        )
        self.rev = rev


class NotATetherRepo(TetherError):
    """The directory is not inside a git repository with DVC initialised."""


class ConfigError(TetherError):
    """conf/, params.yaml, dvc.yaml or tether's own settings are invalid."""


class CheckFailed(TetherError):
    """A check or gate ran and found problems; the command's output says which."""

    exit_code = EXIT_FAILED


class ForgedManifest(CheckFailed):
    """A release tag whose manifest names another commit, artifact or version."""


class MetricsUnreadable(CheckFailed):
    """A metrics or params file could not be read at a revision (exit 1): the
    comparison is incomplete, so it must not pass for a clean one."""


class GitHubRefused(TetherError):
    """GitHub answered a request with a 4xx that retrying cannot fix (exit 1)."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, hint: str | None = None, status: int | None = None) -> None:
        super().__init__(message, hint)
        self.status = status


class ExternalError(TetherError):
    """git, DVC, a remote or the network failed underneath tether."""

    exit_code = EXIT_EXTERNAL


class StageFailed(TetherError):
    """A pipeline stage's own command failed (exited non-zero): the user's code or a
    param value it was given, not git, DVC or a remote (those are ExternalError)."""

    exit_code = EXIT_STAGE


class NotBitExact(TetherError):
    """``tether verify``'s second tier: equivalent, never called bit-exact."""

    exit_code = EXIT_EQUIVALENT


class WorkspaceBusy(ExternalError):
    """Another process holds the workspace lock of ``tether run``."""


class Interrupted(TetherError):
    """A signal stopped the command: exit 130 for SIGINT (Ctrl-C), 143 for SIGTERM."""

    def __init__(self, message: str, hint: str | None = None, *, terminated: bool = False) -> None:
        super().__init__(message, hint)
        self.exit_code = EXIT_TERMINATED if terminated else EXIT_INTERRUPTED


class InvalidYaml(ConfigError):
    """A YAML file (dvc.yaml, dvc.lock, a metrics or params file) that cannot be read."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path} is not valid YAML: {reason}", f"Fix {path}, then retry.")
        self.path = path
        self.reason = reason


class IntegrityError(ExternalError):
    """Bytes in the DVC cache or a remote do not hash to the md5 they are stored under."""

    def __init__(self, what: str, expected: str, actual: str, hint: str | None = None) -> None:
        super().__init__(
            f"{what} is corrupted: its bytes hash to {actual}, not {expected}",
            hint or "Remove the corrupted copy, then `dvc push` it again from a good cache.",
        )
        self.what = what
        self.expected = expected
        self.actual = actual


class TetherWarning(UserWarning):
    """Something tether skipped and carried on without (``warnings.warn``); the
    command layer prints it on stderr as ``warning: ...``."""


class LockError(UsageError):
    """A release's environment lock is corrupt or cannot be replayed as recorded
    (``tether.replay``)."""


class InterpreterMissing(UsageError):
    """The Python a release was built with is not on this machine (``tether.replay``)."""


class ReplayInstallError(ExternalError):
    """uv could not install a lock exactly: a version or file the index lacks, no
    index reachable, or installed files that differ from the record (``tether.replay``)."""
