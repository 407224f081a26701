"""The command layer: parse flags, call one API function, render its result.

Each command group lives in its own module and registers itself on ``app``.
Nothing here imports DVC, scikit-learn or pandas at module level, so
``tether --help`` starts fast; the API modules are imported inside commands.
``main`` is the single place where errors become messages and exit codes.
"""

from __future__ import annotations

import os
import sys

import typer

# Command modules register themselves on ``app`` (tether.cli.app) when imported.
from tether.cli import metrics, pipeline, registry, report, serve, verify  # noqa: F401
from tether.cli.app import app
from tether.errors import EXIT_INTERRUPTED, EXIT_USAGE, TetherError


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``tether`` console script."""
    from tether.cli.output import error

    command = typer.main.get_command(app)
    traceback = os.environ.get("TETHER_TRACEBACK") == "1"
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
