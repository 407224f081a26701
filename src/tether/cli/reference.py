"""The command reference, generated from the commands themselves.

README.md's command table is the output of ``command_table()``, written there by cog
(``make docs``) and checked by the tests, so it cannot drift from the CLI: a new
command, option or summary shows up in README the moment it exists.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer

from tether.cli.app import app

# Options that (nearly) every command takes, named once under the table, not per row.
COMMON = ("repo", "help")

# Commands, parameters and contexts are those of the click that typer carries (its
# own private copy in recent versions), so they are read by their public attributes
# (``commands``, ``param_type_name``, ``is_flag``...), never by isinstance on click's.
Command = Any


def commands() -> Iterator[tuple[str, Command]]:
    """Every command as ``("tether NAME", command)``, subcommands of groups included,
    in the order they were registered."""
    root = typer.main.get_command(app)
    yield from _walk(root, typer.Context(root, info_name="tether"), "tether")


def _walk(group: Command, ctx: Any, prefix: str) -> Iterator[tuple[str, Command]]:
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        path = f"{prefix} {name}"
        if hasattr(command, "commands"):  # a group: its subcommands
            yield from _walk(command, typer.Context(command, info_name=name, parent=ctx), path)
        else:
            yield path, command


def _is_argument(param: Any) -> bool:
    return bool(param.param_type_name == "argument")


def _metavar(param: Any) -> str:
    if param.metavar:
        return str(param.metavar)
    choices = getattr(param.type, "choices", None)
    if choices:
        return "|".join(str(choice) for choice in choices)
    return str(param.name or "value").upper()


def _piece(param: Any) -> str:
    """One parameter as it is typed: ``NAME``, ``[B]``, ``--json``, ``[--tags GLOB]``."""
    if _is_argument(param):
        text = _metavar(param)
        if text.startswith("["):
            return text
        return text if param.required else f"[{text}]"
    long = [opt for opt in param.opts if opt.startswith("--")]
    text = str((long or param.opts)[0])
    if not getattr(param, "is_flag", False):
        text += f" {_metavar(param)}"
    return text if param.required else f"[{text}]"


def usage(path: str, command: Command) -> str:
    """The command line: arguments, then options (the common ones left out)."""
    arguments = [p for p in command.params if _is_argument(p)]
    options = [p for p in command.params if not _is_argument(p)]
    pieces = [_piece(p) for p in arguments]
    pieces += [_piece(p) for p in options if p.name not in COMMON]
    return " ".join([path, *pieces])


def summary(command: Command) -> str:
    """The first line of the command's help."""
    return str(command.get_short_help_str(limit=200))


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def command_table() -> str:
    """README's command table in Markdown."""
    lines = ["| command | what it does |", "| --- | --- |"]
    with_repo = []
    for path, command in commands():
        lines.append(f"| `{_cell(usage(path, command))}` | {_cell(summary(command))} |")
        if any(p.name == "repo" for p in command.params):
            with_repo.append(path.removeprefix("tether "))
    lines += [
        "",
        f"All but {_others(with_repo)} take `--repo/-C DIR` to work on another "
        "repository; every command takes `-h/--help`.",
    ]
    return "\n".join(lines) + "\n"


def _others(with_repo: list[str]) -> str:
    every = [path.removeprefix("tether ") for path, _ in commands()]
    others = [f"`{name}`" for name in every if name not in with_repo]
    return ", ".join(others) or "none"
