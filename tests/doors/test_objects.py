"""tether.objects: an output's bytes by md5, from the cache or the remote, rehashed."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from tests.helpers import copy_repo, dvc
from tests.verify.conftest import BUCKET, S3_ENV
from tether import dvcfiles, objects
from tether.backends import dvc as dvc_backend
from tether.errors import ExternalError, IntegrityError, UsageError


@pytest.fixture
def project(dvc3_project: Path, tmp_path: Path) -> Path:
    """A private copy whose DVC remote is a private copy too."""
    remote = dvc3_project.parent / "remote"
    copy = copy_repo(dvc3_project, tmp_path / "project")
    shutil.copytree(remote, tmp_path / "remote")
    dvc(copy, "remote", "modify", "--local", "store", "url", str(tmp_path / "remote"))
    return copy


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def _cache_object(root: Path, md5: str) -> Path:
    return root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]


def _corrupt(path: Path) -> None:
    os.chmod(path, 0o644)
    path.write_bytes(b"not what was recorded\n")


def _out_md5(root: Path, path: str) -> str:
    out = dvcfiles.read(root).output(path)
    assert out is not None and out.md5
    return out.md5


def test_from_the_local_cache(project: Path, tmp_path: Path) -> None:
    md5 = _out_md5(project, "out.txt")
    found = objects.fetch(project, md5)
    assert found == _cache_object(project, md5)
    assert found.read_bytes() == b"hello\n"
    copy = objects.fetch(project, md5, dest=tmp_path / "x" / "out.txt")
    assert copy == tmp_path / "x" / "out.txt" and copy.read_bytes() == b"hello\n"


def test_corrupted_cache_object_is_refused(project: Path) -> None:
    md5 = _out_md5(project, "out.txt")
    _corrupt(_cache_object(project, md5))
    with pytest.raises(IntegrityError) as caught:
        objects.fetch(project, md5)
    message = caught.value.message
    assert md5 in message and "is corrupted" in message
    assert hashlib.md5(b"not what was recorded\n").hexdigest() in message
    assert "dvc pull" in str(caught.value.hint)


def test_from_the_remote_when_the_cache_lacks_it(project: Path) -> None:
    md5 = _out_md5(project, "out.txt")
    shutil.rmtree(project / ".dvc" / "cache")
    found = objects.fetch(project, md5)
    assert found == _cache_object(project, md5)  # brought into the local cache
    assert _md5(found) == md5


def test_corrupted_remote_object_is_not_used(project: Path, tmp_path: Path) -> None:
    md5 = _out_md5(project, "out.txt")
    shutil.rmtree(project / ".dvc" / "cache")
    _corrupt(tmp_path / "remote" / "files" / "md5" / md5[:2] / md5[2:])
    with pytest.raises(IntegrityError) as caught:
        objects.fetch(project, md5)
    assert "DVC remote 'store'" in caught.value.message and md5 in caught.value.message
    assert "dvc push -r store" in str(caught.value.hint)
    assert not _cache_object(project, md5).exists()  # nothing corrupted kept


def test_missing_everywhere_names_push(project: Path, tmp_path: Path) -> None:
    md5 = _out_md5(project, "out.txt")
    shutil.rmtree(project / ".dvc" / "cache")
    shutil.rmtree(tmp_path / "remote")
    (tmp_path / "remote").mkdir()
    with pytest.raises(ExternalError) as caught:
        objects.fetch(project, md5)
    assert "neither the local DVC cache nor DVC remote 'store'" in caught.value.message
    assert "dvc push -r store" in str(caught.value.hint)


def test_from_a_remote_in_dvc2_layout(project: Path, tmp_path: Path) -> None:
    """A remote pushed to by DVC 2 keeps objects at its top (no files/md5/):
    DVC 3 still reads them, and so does tether."""
    md5 = _out_md5(project, "out.txt")
    shutil.rmtree(project / ".dvc" / "cache")
    remote = tmp_path / "remote"
    (remote / md5[:2]).mkdir()
    shutil.move(remote / "files" / "md5" / md5[:2] / md5[2:], remote / md5[:2] / md5[2:])
    found = objects.fetch(project, md5)
    assert found == project / ".dvc" / "cache" / md5[:2] / md5[2:]  # DVC 2's cache layout
    assert found.read_bytes() == b"hello\n"
    _corrupt(remote / md5[:2] / md5[2:])
    shutil.rmtree(project / ".dvc" / "cache")
    with pytest.raises(IntegrityError):
        objects.fetch(project, md5)


def test_directory_output(project: Path, tmp_path: Path) -> None:
    md5 = _out_md5(project, "folder")
    shutil.rmtree(project / ".dvc" / "cache")
    files = objects.fetch_dir(project, md5, dest=tmp_path / "folder")
    assert sorted(files) == ["a.txt", "b.txt"]
    assert files["a.txt"].read_bytes() == b"a\n"
    assert files["b.txt"] == tmp_path / "folder" / "b.txt"


def test_not_an_md5(project: Path) -> None:
    with pytest.raises(UsageError, match="is not an md5"):
        objects.fetch(project, "../../etc/passwd")


def test_replace_object_mends_the_cache_and_a_local_remote(project: Path, tmp_path: Path) -> None:
    md5 = _out_md5(project, "out.txt")
    copies = [
        _cache_object(project, md5),
        tmp_path / "remote" / "files" / "md5" / md5[:2] / md5[2:],
    ]
    for copy in copies:
        _corrupt(copy)
    written = dvc_backend.replace_object(project, b"hello\n")
    assert written[0] == str(copies[0]) and "DVC remote 'store'" in written[-1]
    for copy in copies:
        assert copy.read_bytes() == b"hello\n" and copy.stat().st_mode & 0o222 == 0
    assert objects.fetch(project, md5).read_bytes() == b"hello\n"


def test_replace_object_mends_an_s3_remote(
    project: Path, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DVC's push skips an object the remote has by name: a bad copy is written over."""
    import boto3

    for key, value in S3_ENV.items():
        monkeypatch.setenv(key, value)
    url = f"s3://{BUCKET}/replace-object"
    dvc(project, "remote", "add", "--local", "s3", url)
    dvc(project, "remote", "modify", "--local", "s3", "endpointurl", s3_endpoint)
    md5 = hashlib.md5(b"mended\n").hexdigest()
    key = f"replace-object/files/md5/{md5[:2]}/{md5[2:]}"
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.put_object(Bucket=BUCKET, Key=key, Body=b"bad bytes")
    written = dvc_backend.replace_object(project, b"mended\n", remote="s3")
    assert "DVC remote 's3'" in written[-1]
    assert client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"mended\n"
