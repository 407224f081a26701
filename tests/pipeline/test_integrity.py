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
