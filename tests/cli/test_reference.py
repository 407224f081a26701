"""README's command table is generated from the CLI (cog) and cannot drift."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from cogapp import Cog

from tether.cli.reference import command_table, commands, usage

README = Path(__file__).resolve().parents[2] / "README.md"


def _cog_check(path: Path) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        status = Cog().main(["cog", "--check", str(path)])
    return status, out.getvalue()


def test_readme_command_table_is_current() -> None:
    status, said = _cog_check(README)
    assert status == 0, f"README.md's command table is stale: run `make docs`.\n{said}"


def test_a_stale_table_is_caught(tmp_path: Path) -> None:
    stale = tmp_path / "README.md"
    stale.write_text(
        README.read_text().replace("| `tether check [--json]` |", "| `tether check` |")
    )
    assert stale.read_text() != README.read_text()
    status, said = _cog_check(stale)
    assert status != 0 and "Check failed" in said


def test_every_command_has_a_row_with_its_usage_and_summary() -> None:
    table = command_table()
    names = [path for path, _ in commands()]
    assert "tether run" in names and "tether verify" in names and "tether comment" in names
    for path, command in commands():
        line = next(row for row in table.splitlines() if row.startswith(f"| `{path} "))
        assert command.get_short_help_str(limit=200) in line.replace("\\|", "|")
    assert (
        "| `tether diff [A] [B] [--all] [--json] [--md] [--fail-on RULE]` | "
        "Compare metrics and params between two revisions, side by side. |"
    ) in table
    assert "| `tether report --base REF [--head REF] [--output FILE] " in table
    assert "All but `comment` take `--repo/-C DIR`" in table


def test_usage_marks_optional_arguments_and_choices() -> None:
    found = dict(commands())
    assert usage("tether promote", found["tether promote"]) == (
        "tether promote NAME VERSION STAGE [--push] [--json]"
    )
    assert usage("tether release", found["tether release"]).startswith(
        "tether release NAME [--version VERSION] [--bump major|minor|patch] "
    )
    assert (
        usage("tether run", found["tether run"]) == "tether run [OVERRIDE]... [--reset] [--force]"
    )
