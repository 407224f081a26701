"""The typer application every command module registers itself on, and the
``--repo/-C`` option's resolution. Command modules import ``app`` from here (not
from the package, which imports them: that was an import cycle)."""

from __future__ import annotations

from pathlib import Path

import typer

from tether import __version__

app = typer.Typer(
    name="tether",
    help=(
        "Git-native reproducibility for machine learning: compose Hydra configs, "
        "run DVC pipelines, diff metrics, release and re-verify models.\n\n"
        "Exit codes: 0 ok; 1 a check or gate failed; 2 usage or input error; "
        "3 git, DVC or a remote failed; 4 a stage's command failed; 130 interrupted; "
        "143 terminated (SIGTERM)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _argument_metavar(self: typer.core.TyperArgument, ctx: object, *, usage: bool = False) -> str:
    """An argument as usage lines and help show it: ``NAME``, ``[REV]``, ``RULE...``.

    typer (0.28, rich disabled) writes required arguments as ``{name}``, which
    reads like a template placeholder left unfilled; this is click's own form."""
    var = self.metavar or (self.name or "").upper()
    if usage and not self.required:
        var = f"[{var}]"
    return var + ("..." if self.nargs != 1 else "")


typer.core.TyperArgument.make_metavar = _argument_metavar  # type: ignore[method-assign,assignment]


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
