"""The command layer: parse flags, call one API function, render its result.

Each command group lives in its own module and registers itself on ``app``.
Nothing here imports DVC, scikit-learn or pandas at module level, so
``tether --help`` starts fast; the API modules are imported inside commands.
``main`` is the single place where errors become messages and exit codes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from tether import __version__
from tether.errors import EXIT_INTERRUPTED, EXIT_USAGE, TetherError

app = typer.Typer(
    name="tether",
    help=(
        "Git-native reproducibility for machine learning: compose Hydra configs, "
        "run DVC pipelines, diff metrics, release and re-verify models.\n\n"
        "Exit codes: 0 ok; 1 a check or gate failed; 2 usage or input error; "
        "3 git, DVC or a remote failed; 130 interrupted."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tether {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Git-native reproducibility for machine learning."""


def repo_root(path: Path) -> Path:
    """The top of the git work tree containing ``path`` (the ``--repo/-C`` option)."""
    from tether.backends.git import find_root

    return find_root(path)


# Command modules register themselves on ``app`` when imported.
from tether.cli import metrics, pipeline, registry, report, serve, verify  # noqa: E402,F401


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
