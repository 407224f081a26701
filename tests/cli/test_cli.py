"""The command layer: help, version, startup cost, error mapping."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import tether
from tether import __version__
from tether.cli.reference import commands


def _commands() -> dict:
    """Every command, subcommands of groups included (``tether NAME ...``)."""
    return dict(commands())


def test_version(tmp_path):
    proc = tether(tmp_path, "--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"tether {__version__}"


def test_help_lists_commands_and_exit_codes(tmp_path):
    proc = tether(tmp_path, "--help")
    assert proc.returncode == 0
    assert "run" in proc.stdout and "check" in proc.stdout
    assert "1 a check or gate failed" in proc.stdout
    words = " ".join(proc.stdout.split())  # help text is wrapped to the terminal
    assert "3 git, DVC or a remote failed; 4 a stage's command failed;" in words


@pytest.mark.parametrize("name", sorted(_commands()))
def test_every_command_has_help_with_an_example(name):
    command = _commands()[name]
    assert command.help, f"{name} has no help text"
    assert command.epilog and f"{name} " in command.epilog, f"{name} help has no example"
    for param in command.params:
        if getattr(param, "param_type_name", "") == "option" and param.name != "help":
            assert param.help, f"{name} option {param.opts} has no help"


def test_help_does_not_import_heavy_libraries():
    code = (
        "import sys\n"
        "from tether.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('dvc', 'dvc.repo', 'sklearn', 'pandas', 'fastapi', 'uvicorn', 'prometheus_client') if m in sys.modules)\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY=\n" in out.stdout


def test_show_reads_a_registry_without_importing_yaml(tmp_path):
    """Only YAML files need PyYAML (about 10 ms of start-up): a registry read in a
    project without a .gto file must not import it, and reads a .gto file with it."""
    git = ["git", "-C", str(tmp_path)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "one"], check=True)
    subprocess.run([*git, "tag", "-a", "model@v0.0.1", "-m", "Registering"], check=True)
    code = (
        "import sys\n"
        "from tether.cli import main\n"
        "try:\n    main(['show', '--json'])\nexcept SystemExit as stop:\n"
        "    assert not stop.code, stop.code\n"
        "print('YAML=' + str('yaml' in sys.modules))\n"
    )
    run = [sys.executable, "-c", code]
    out = subprocess.run(run, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert '"model"' in out.stdout and "YAML=False" in out.stdout
    (tmp_path / ".gto").write_text("stages: [dev, prod]\n")
    out = subprocess.run(run, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert '"model"' in out.stdout and "YAML=True" in out.stdout


def test_outside_a_repository_is_a_usage_error(tmp_path):
    proc = tether(tmp_path, "check")
    assert proc.returncode == 2
    assert "is not inside a git repository" in proc.stderr
    assert "git init && dvc init" in proc.stderr


def test_unknown_option_is_a_usage_error(tmp_path):
    proc = tether(tmp_path, "check", "--bogus")
    assert proc.returncode == 2
    assert "No such option: --bogus" in proc.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("diff", "--json", "--md"), "error: give --json or --md, not both"),
        (("history", "--md", "--csv"), "error: give only one of --json, --md, --csv"),
        (("history", "--tags", "v*", "--last", "2"), "error: give --tags or --last/--branch"),
        (("run", "--reset", "model=x"), "error: give overrides or --reset, not both"),
    ],
)
def test_flag_clashes_are_usage_errors_before_any_work(tmp_path, args, words):
    """Not even a repository here: the clash is refused first, through main."""
    proc = tether(tmp_path, *args)
    assert proc.returncode == 2
    assert proc.stderr.startswith(words)
    assert "not inside a git repository" not in proc.stderr
    assert proc.stdout == ""


def test_print_json_refuses_nan():
    from tether.cli.output import print_json

    with pytest.raises(ValueError):
        print_json({"x": float("nan")})
    assert json.loads(json.dumps({"ok": 1})) == {"ok": 1}


def test_terminal_output_escapes_control_characters(capsys) -> None:
    from rich.table import Table

    from tether.cli.output import err, error, out, print_table

    out("metric \x1b[2J\x1b]0;title\x07 \u202eevil")
    err("path \x1b[31mred")
    error("tag \x1b[8mhidden", "hint \x9b2J")
    table = Table("name")
    table.add_row("n\x1b[1m")
    print_table(table)
    captured = capsys.readouterr()
    for stream in (captured.out, captured.err):
        assert "\x1b" not in stream and "\x9b" not in stream and "\u202e" not in stream
    assert "metric \\x1b[2J\\x1b]0;title \\u202eevil" in captured.out
    assert "n\\x1b[1m" in captured.out
    assert "path \\x1b[31mred" in captured.err
    assert "error: tag \\x1b[8mhidden" in captured.err and "hint \\x9b2J" in captured.err
