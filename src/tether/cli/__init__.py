"""The command layer: parse flags, call one API function, render its result.

Each command group lives in its own module and registers itself on ``app``. A
command parses its flags, calls one domain function and hands the result to that
domain's renderer (``tether.<domain>.render``, ``tether.report.markdown``).

Domain modules are imported inside the command functions for start-up speed only
(``tether --help`` must not import DVC, scikit-learn or pandas; a test checks it),
never to hide an import cycle.

``main`` is the single place where errors become messages and exit codes: every
failure is a ``tether.errors.TetherError`` raised up to it (a failed check or gate
is ``CheckFailed``, exit 1; Ctrl-C is ``Interrupted``, exit 130).
"""

from __future__ import annotations

import os
import sys

import typer

# Command modules register themselves on ``app`` (tether.cli.app) when imported, in
# this order: the order of `tether --help` and of README's command table
# (tether.cli.reference).
# isort: off
from tether.cli import pipeline  # noqa: F401
from tether.cli import metrics  # noqa: F401
from tether.cli import registry  # noqa: F401
from tether.cli import push  # noqa: F401
from tether.cli import verify  # noqa: F401
from tether.cli import env  # noqa: F401
from tether.cli import serve  # noqa: F401
from tether.cli import report  # noqa: F401
from tether.cli import monitor  # noqa: F401
from tether.cli import tune  # noqa: F401

# isort: on
from tether.cli.app import app
from tether.cli.output import error
from tether.errors import EXIT_INTERRUPTED, EXIT_USAGE, TetherError


def _print_tether_warnings() -> None:
    """Show the API's TetherWarnings as ``warning: ...`` lines, each text once per
    command (a command may read the registry several times, `tether serve`'s
    follower every poll); others as Python does."""
    import warnings

    from tether.cli.output import warn
    from tether.errors import TetherWarning

    default = warnings.showwarning
    shown: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
        if issubclass(category, TetherWarning):
            if str(message) not in shown:
                shown.add(str(message))
                warn(str(message))
        else:
            default(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    warnings.simplefilter("always", TetherWarning)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``tether`` console script."""
    command = typer.main.get_command(app)
    traceback = os.environ.get("TETHER_TRACEBACK") == "1"
    _print_tether_warnings()
    try:
        code = command.main(args=argv, prog_name="tether", standalone_mode=False)
    except TetherError as exc:
        if traceback:
            raise
        error(exc.message, exc.hint)
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        error("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    except typer.Exit as exc:
        # typer turns Ctrl-C into a silent Exit(130): say what happened.
        if exc.exit_code == EXIT_INTERRUPTED:
            error("interrupted")
        sys.exit(exc.exit_code)
    except Exception as exc:
        # Usage errors come from the click that typer vendors privately; they all
        # carry ``show()`` and ``exit_code`` (2 for usage errors).
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(exc.exit_code or EXIT_USAGE)
        raise
    sys.exit(code if isinstance(code, int) else 0)
