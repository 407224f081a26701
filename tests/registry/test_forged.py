"""A release tag whose manifest describes another release (copied, or written by hand)
is refused wherever a manifest is read: `tether manifest` and `tether verify`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import commit_all, init_repo, tether, write_tree
from tests.registry.conftest import Clock, tag_annotated
from tether.registry.manifest import Manifest, render


def _manifest(commit: str, version: str, f1: float, human: str = "") -> str:
    built = Manifest(
        artifact="m",
        version=version,
        path="model.pkl",
        commit=commit,
        dvc_lock_sha256="0" * 64,
        metrics={"metrics.json": {"f1": f1}},
        params={},
        outs={"model.pkl": "d41d8cd98f00b204e9800998ecf8427e"},
        deps={},
        overrides=[],
        python="3.11.0",
        packages={},
    )
    return render(built, human or f"m {version}")


@pytest.fixture
def forged(tmp_path: Path, clock: Clock) -> Path:
    """m@v0.1.0 made honestly; m@v0.9.0 on a later commit carries v0.1.0's manifest
    with better metrics."""
    root = init_repo(tmp_path / "forged", dvc=False)
    write_tree(root, {"dvc.lock": "schema: '2.0'\nstages: {}\n"})
    first = commit_all(root, "one")
    hostile = "m \x1b]0;pwned\x07 \x1b[31mred\u202e"  # a window title, colour, bidi
    tag_annotated(
        root, "m@v0.1.0", message=_manifest(first, "v0.1.0", 0.5, hostile), env=clock.env()
    )
    write_tree(root, {"a.txt": "2"})
    commit_all(root, "two")
    tag_annotated(root, "m@v0.9.0", message=_manifest(first, "v0.1.0", 0.99), env=clock.env())
    return root


def test_forged_manifest_is_refused_everywhere_it_is_read(forged: Path) -> None:
    honest = tether(forged, "manifest", "m@v0.1.0")
    assert honest.returncode == 0, honest.stderr
    assert "0.5" in honest.stdout
    # Control characters from the tag message are shown escaped, never obeyed.
    assert "\x1b" not in honest.stdout and "\u202e" not in honest.stdout
    assert "m \\x1b]0;pwned" in honest.stdout and "\\x1b[31mred\\u202e" in honest.stdout

    for command in (["manifest", "m@v0.9.0"], ["manifest", "m@latest", "--json"]):
        proc = tether(forged, *command)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "error: the manifest does not describe this tag: m@v0.9.0's manifest" in proc.stderr
        assert "version 'v0.1.0', the tag's is 'v0.9.0'" in proc.stderr
        assert "commit" in proc.stderr and "git show m@v0.9.0" in proc.stderr
        assert "0.99" not in proc.stdout

    verify = tether(forged, "verify", "m@v0.9.0")
    assert verify.returncode == 1, verify.stdout + verify.stderr
    assert "the manifest does not describe this tag" in verify.stderr
    assert "bit-exact" not in verify.stdout


def test_a_manifest_nested_past_the_stack_is_not_a_manifest(tmp_path: Path) -> None:
    """Anyone can push a tag: one whose manifest JSON nests deeper than Python's
    parser recurses is read as a tag tether did not write, never a traceback."""
    from tests.helpers import git

    root = init_repo(tmp_path / "deep", dvc=False)
    message = tmp_path / "message"
    message.write_text("m v0.1.0\n\ntether-manifest:\n" + "[" * 200_000 + "]" * 200_000)
    git(root, "tag", "-a", "-F", str(message), "m@v0.1.0")
    shown = tether(root, "show", "--json")
    assert shown.returncode == 0, shown.stderr
    read = tether(root, "manifest", "m@v0.1.0")
    assert "Traceback" not in read.stderr and "RecursionError" not in read.stderr
    assert read.returncode == 2, read.stderr
