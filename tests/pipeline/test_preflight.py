"""Files DVC cannot read, or would read two ways, are refused by `tether run` and
`tether check` with exit 2, the file named and its fix, and nothing run or written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import commit_all, tether, write_tree
from tether.errors import ConfigError
from tether.pipeline.check import check
from tether.pipeline.run import run

pytestmark = pytest.mark.slow


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        name: (root / name).read_bytes()
        for name in ("params.yaml", ".tether/overrides.yaml", "dvc.lock", "out.txt")
        if (root / name).exists()
    }


def test_unreadable_or_ambiguous_files_are_refused_before_anything_runs(sleepy: Path) -> None:
    # The commands end to end where the exit code is the point; the API (same code,
    # no interpreter start) for the rest.
    assert tether(sleepy, "run", check=True).returncode == 0
    commit_all(sleepy, "run")
    good_lock = (sleepy / "dvc.lock").read_bytes()

    # dvc.lock that is not YAML: no traceback, the way back named
    (sleepy / "dvc.lock").write_text("stages: [unclosed\n")
    before = _snapshot(sleepy)
    proc = tether(sleepy, "run", "value=4")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: dvc.lock cannot be read (")
    assert "nothing was run" in proc.stderr and "Traceback" not in proc.stderr
    assert "`git checkout -- dvc.lock`" in proc.stderr
    with pytest.raises(ConfigError, match=r"^dvc.lock cannot be read \(") as refused:
        check(sleepy)
    assert "`git checkout -- dvc.lock`" in (refused.value.hint or "")
    assert _snapshot(sleepy) == before
    (sleepy / "dvc.lock").write_bytes(good_lock)

    # params.yaml broken by hand: check says to recompose it, and that works
    (sleepy / "params.yaml").write_text("value: [unclosed\n")
    with pytest.raises(
        ConfigError, match=r"^params\.yaml cannot be read: not valid YAML"
    ) as refused:
        check(sleepy)
    assert "`tether run` composes params.yaml again from conf/" in (refused.value.hint or "")
    run(sleepy)
    assert check(sleepy).reproducible

    # a key both dotted and nested: DVC would keep one of the two
    write_tree(sleepy, {"params.yaml": 'value: 1\nseconds: 0\n"a.b": 1\na:\n  b: 2\n'})
    with pytest.raises(
        ConfigError, match=r"^params\.yaml: key 'a\.b' appears both nested and dotted"
    ):
        check(sleepy)
    write_tree(sleepy, {"conf/config.yaml": 'value: 1\nseconds: 0\n"a.b": 1\na:\n  b: 2\n'})
    before = _snapshot(sleepy)
    proc = tether(sleepy, "run")
    assert proc.returncode == 2, proc.stderr
    assert "params.yaml: key 'a.b' appears both nested and dotted" in proc.stderr
    assert "fix the key in conf/" in proc.stderr
    assert _snapshot(sleepy) == before
