"""What `tether check` (and so `tether release`) says about bytes that changed under
DVC's nose: a corrupted cache object, an output rewritten with its old size and mtime.
Each fix it proposes is run here and must work."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tests.helpers import git, run, tether

pytestmark = pytest.mark.slow
MODEL = "models/model.pkl"


def _lock_md5(root: Path, path: str) -> str:
    import yaml

    lock = yaml.safe_load((root / "dvc.lock").read_text())
    for stage in lock["stages"].values():
        for out in stage.get("outs", []):
            if out["path"] == path:
                return out["md5"]
    raise AssertionError(f"{path} not in dvc.lock")


def _flip_in_place(path: Path) -> str:
    """Flip one byte, keeping size, mode and mtime (what DVC's state trusts)."""
    info = path.stat()
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    os.chmod(path, info.st_mode & 0o777)
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    return hashlib.md5(bytes(data)).hexdigest()


def _fix(root: Path, fix: str) -> None:
    command = fix.split(" (")[0]
    for part in command.split(" && "):
        run(*part.split(), cwd=root)


def test_corrupted_cache_object_is_named_refused_and_repaired(template_repo: Path) -> None:
    root = template_repo
    md5 = _lock_md5(root, MODEL)
    obj = root / ".dvc/cache/files/md5" / md5[:2] / md5[2:]
    bad = _flip_in_place(obj)

    proc = tether(root, "check")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    shown = f".dvc/cache/files/md5/{md5[:2]}/{md5[2:]}"
    assert f"the DVC cache object {shown} of {MODEL} is corrupted" in proc.stdout
    assert f"its bytes hash to {bad}, not {md5}" in proc.stdout

    # release runs the same check before it pushes: nothing reaches the remote
    released = tether(root, "release", "cancer-classifier")
    assert released.returncode == 1, released.stderr
    assert "is corrupted" in released.stderr
    assert git(root, "tag", "-l") == ""
    assert not (root / "storage").exists() or not list((root / "storage").rglob(md5[2:]))

    fix = next(line for line in proc.stdout.splitlines() if "fix: mv" in line)
    _fix(root, fix.split("fix: ", 1)[1])
    again = tether(root, "check")
    assert again.returncode == 0, again.stdout
    assert hashlib.md5(obj.read_bytes()).hexdigest() == md5


def test_output_rewritten_with_same_size_and_mtime_gets_a_fix_that_works(
    template_repo: Path,
) -> None:
    root = template_repo
    _flip_in_place(root / MODEL)
    proc = tether(root, "check")
    assert proc.returncode == 1
    assert f"out {MODEL} of stage 'train' differs from its hash in dvc.lock" in proc.stdout
    assert f"fix: dvc checkout --relink --force {MODEL}" in proc.stdout
    _fix(root, f"dvc checkout --relink --force {MODEL}")
    assert tether(root, "check").returncode == 0


def test_dvc2_lock_entries_are_hashed_as_dvc2_hashed_them(tmp_path: Path) -> None:
    """A DVC 2.x dvc.lock entry (md5, no `hash: md5`) of a text file with CRLF line
    ends: DVC 2 hashed it with CRLF read as LF, and DVC 3 still does for such entries."""
    from tests.helpers import commit_all, init_repo, write_tree

    root = init_repo(tmp_path / "old")
    text = b"a,b\r\n1,2\r\n"
    as_dvc2 = hashlib.md5(text.replace(b"\r\n", b"\n")).hexdigest()
    write_tree(
        root,
        {
            "dvc.yaml": "stages:\n  make:\n    cmd: python make.py\n    outs:\n    - table.csv\n",
            "make.py": "open('table.csv', 'wb').write(b'a,b\\r\\n1,2\\r\\n')\n",
            "dvc.lock": (
                "schema: '2.0'\nstages:\n  make:\n    cmd: python make.py\n    outs:\n"
                f"    - path: table.csv\n      md5: {as_dvc2}\n      size: {len(text)}\n"
            ),
            "table.csv": text,
            ".gitignore": "/table.csv\n",
        },
    )
    write_tree(root, {f".dvc/cache/{as_dvc2[:2]}/{as_dvc2[2:]}": text})  # DVC 2's layout
    commit_all(root, "made by DVC 2")
    assert "up to date" in run("dvc", "status", cwd=root).stdout  # DVC agrees
    proc = tether(root, "check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("reproducible: the workspace matches commit")
    # and a real change is still seen
    (root / "table.csv").write_bytes(b"a,b\r\n1,3\r\n")
    proc = tether(root, "check")
    assert proc.returncode == 1
    assert "out table.csv of stage 'make' differs from its hash in dvc.lock" in proc.stdout
