"""The lock format on its own: digests, lines, round trip, archives by tags."""

from __future__ import annotations

import zipfile

import pytest
from packaging.tags import parse_tag

from tether.errors import LockError
from tether.replay.lock import (
    ArchiveIndex,
    Lock,
    LockedPackage,
    from_dict,
    parse_line,
    record,
    record_digest,
)

HASH = "sha256:" + "a" * 64
RECORD = "sha256:" + "b" * 64


def test_record_digest_ignores_what_installers_write() -> None:
    wheel_rows = [
        ["pkg/__init__.py", "sha256=x", "10"],
        ["pkg-1.0.dist-info/METADATA", "sha256=y", "20"],
        ["pkg-1.0.dist-info/RECORD", "", ""],
    ]
    pip_rows = [
        *wheel_rows,
        ["pkg/__pycache__/__init__.cpython-311.pyc", "sha256=p", "5"],
        ["pkg-1.0.dist-info/INSTALLER", "sha256=i", "4"],
        ["pkg-1.0.dist-info/REQUESTED", "sha256=r", "0"],
        ["pkg-1.0.dist-info/direct_url.json", "sha256=d", "9"],
        ["../../../bin/pkg", "sha256=s", "200"],
    ]
    uv_rows = [*reversed(wheel_rows), ["pkg-1.0.dist-info/uv_cache.json", "sha256=u", "1"]]
    digest = record_digest(wheel_rows, "pkg-1.0.dist-info")
    assert digest == record_digest(pip_rows, "pkg-1.0.dist-info")
    assert digest == record_digest(uv_rows, "pkg-1.0.dist-info")
    changed = [["pkg/__init__.py", "sha256=OTHER", "10"], *wheel_rows[1:]]
    assert record_digest(changed, "pkg-1.0.dist-info") != digest


def test_lines_round_trip_and_hash_the_whole_lock() -> None:
    lock = Lock(
        "3.11.7",
        "cpython",
        "cp311-cp311-linux_x86_64",
        ("linux_x86_64",),
        (
            LockedPackage("numpy", "2.4.6", (HASH,), RECORD),
            LockedPackage("pyyaml", "6.0.2", (), RECORD),
            LockedPackage("tether", "0.1.0", editable=True),
        ),
    )
    assert lock.lines() == [
        f"numpy==2.4.6 --hash={HASH} # record={RECORD}",
        f"pyyaml==6.0.2 # record={RECORD}",
        "# editable: tether==0.1.0",
    ]
    assert from_dict(lock.to_dict()) == lock
    assert not lock.fully_hashed and [p.name for p in lock.installable] == ["numpy", "pyyaml"]
    assert "numpy==2.4.6 --hash=" in lock.requirements()
    other = Lock(lock.python, lock.implementation, lock.tag, lock.platforms, lock.packages[:1])
    assert other.sha256 != lock.sha256


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("numpy>=2", "is not a pinned requirement"),
        ("NumPy==2.0", "is not a pinned requirement"),
        ("numpy==2.0 --hash=md5:abc", "is not a pinned requirement"),
        ("numpy==not-a-version", "is not a version"),
        ("numpy==2.0; os_name=='nt'", "is not a pinned requirement"),
    ],
)
def test_a_bad_line_is_a_corrupt_lock(line: str, why: str) -> None:
    with pytest.raises(LockError, match=why):
        parse_line(line, "v1", 3)


def test_a_lock_whose_content_changed_is_refused() -> None:
    data = Lock("3.11.7", "cpython", "t", (), (LockedPackage("numpy", "2.4.6"),)).to_dict()
    data["requirements"] = ["numpy==2.4.7"]
    with pytest.raises(LockError, match="its content hashes to sha256:"):
        from_dict(data, "v1")
    with pytest.raises(LockError, match="'requirements' is missing"):
        from_dict({"format": data["format"]}, "v1")


def test_the_archive_is_the_wheel_with_the_installed_tags(tmp_path) -> None:
    for name in (
        "numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
        "numpy-2.4.6-cp312-cp312-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
        "antlr4_python3_runtime-4.9.3.tar.gz",
    ):
        (tmp_path / name).write_bytes(name.encode())
    index = ArchiveIndex.scan([tmp_path])
    tags = frozenset(parse_tag("cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64"))
    found = index.archive("numpy", "2.4.6", tags)
    assert found is not None and found.name.startswith("numpy-2.4.6-cp311")
    assert index.archive("numpy", "2.4.5", tags) is None
    sdist = index.archive("antlr4-python3-runtime", "4.9.3", frozenset(parse_tag("py3-none-any")))
    assert sdist is not None and sdist.name.endswith(".tar.gz")


def test_a_wheel_renamed_to_a_platform_tag_is_found_by_its_own_wheel_file(tmp_path) -> None:
    """playwright builds py3-none-any wheels and renames them to a platform tag;
    the installed WHEEL names the tags inside the archive, not the file name's."""
    name = "playwright-1.65.2-py3-none-manylinux1_x86_64.whl"
    with zipfile.ZipFile(tmp_path / name, "w") as wheel:
        wheel.writestr(
            "playwright-1.65.2.dist-info/WHEEL", "Wheel-Version: 1.0\nTag: py3-none-any\n"
        )
    (tmp_path / "other-1.0-py3-none-manylinux1_x86_64.whl").write_bytes(b"not a zip")
    index = ArchiveIndex.scan([tmp_path])
    found = index.archive("playwright", "1.65.2", frozenset(parse_tag("py3-none-any")))
    assert found is not None and found.name == name
    assert index.archive("other", "1.0", frozenset(parse_tag("py3-none-any"))) is None


def test_record_of_this_environment_names_every_distribution(tmp_path) -> None:
    wheel = tmp_path / "not-a-match.whl"
    wheel.write_bytes(b"x")
    lock = record(find_links=[tmp_path])
    names = {p.name for p in lock.packages}
    assert {"scikit-learn", "numpy", "dvc", "uv"} <= names
    assert [p.name for p in lock.editables] == ["tether"]
    assert all(p.record for p in lock.installable)
    assert not any(p.hashes for p in lock.packages)
    assert lock.python.count(".") == 2 and lock.implementation == "cpython"
    assert record(find_links=[]).sha256 == lock.sha256
