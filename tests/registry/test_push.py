"""``tether push``: a team moves to shared storage, and a teammate's clone gets
every release with its data (real git remotes, real DVC remotes, the template)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import dvc, git, tether
from tests.registry.conftest import Clock
from tests.verify.conftest import s3_endpoint, s3_env  # noqa: F401 (fixtures)

NAME = "cancer-classifier"
pytestmark = pytest.mark.slow


def tags(root: Path) -> set[str]:
    return set(git(root, "tag", "-l").split())


def _object(storage: Path, md5: str) -> Path:
    return storage / "files" / "md5" / md5[:2] / md5[2:]


def test_push_moves_every_release_to_shared_storage(
    template_repo: Path, tmp_path: Path, clock: Clock
) -> None:
    a = template_repo
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(a, "remote", "add", "origin", str(origin))
    git(a, "push", "-q", "origin", "main")
    # Released and promoted in the clone only, data in the in-clone default remote,
    # which the release says teammates cannot reach.
    released = tether(a, "release", NAME, check=True, env=clock.env())
    assert "The DVC remote 'local' is a folder inside this clone" in released.stdout
    assert "teammates cannot reach it" in released.stdout
    tether(a, "promote", NAME, "v0.1.0", "prod", check=True, env=clock.env())
    model_md5 = json.loads(tether(a, "manifest", f"{NAME}@v0.1.0", "--json", check=True).stdout)[
        "outs"
    ]["models/model.pkl"]

    # The team moves to shared storage: the old release's data is not there yet.
    shared = tmp_path / "shared-storage"
    shared.mkdir()
    dvc(a, "remote", "modify", "--local", "local", "url", str(shared))

    # A release whose data is nowhere (not in the cache, not on the remote) stops
    # the push before any tag goes out.
    cached = _object(a / ".dvc" / "cache", model_md5)
    aside = tmp_path / "model.aside"
    shutil.move(cached, aside)
    broken = tether(a, "push")
    assert broken.returncode == 3, broken.stdout
    assert (
        f"the data of 1 release(s) is not in the local DVC cache nor in DVC remote 'local' "
        f"({NAME}@v0.1.0: models/model.pkl)"
    ) in broken.stderr
    assert "no tag was pushed" in broken.stderr and "dvc fetch -r OLD_REMOTE" in broken.stderr
    assert tags(origin) == set()
    shutil.move(aside, cached)

    done = tether(a, "push", env=clock.env())
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"{NAME}@v0.1.0: uploaded ")
    assert "to DVC remote 'local'" in lines[0]
    assert (
        f"Pushed 2 registry tag(s) to origin in one atomic push: {NAME}@v0.1.0, {NAME}#prod#1"
        in lines
    )
    assert tags(origin) == {f"{NAME}@v0.1.0", f"{NAME}#prod#1"}
    assert _object(shared, model_md5).is_file()

    again = tether(a, "push", "--json", check=True)
    report = json.loads(again.stdout)
    assert report["pushed"] == [] and sorted(report["present"]) == sorted(tags(origin))
    assert report["releases"][0]["uploaded"] == 0 and report["releases"][0]["objects"] >= 4

    # A teammate clones, points at the shared storage, and gets the prod model.
    b = tmp_path / "b"
    git(tmp_path, "clone", "-q", str(origin), str(b))
    dvc(b, "remote", "modify", "--local", "local", "url", str(shared))
    git(b, "checkout", "-q", f"{NAME}@v0.1.0")
    dvc(b, "pull", "-q")
    assert (b / "models" / "model.pkl").read_bytes() == (a / "models" / "model.pkl").read_bytes()
    shown = json.loads(tether(b, "show", "--json", check=True).stdout)
    assert shown[NAME]["stage"] == {"prod": "v0.1.0"}


def test_push_refuses_a_tag_that_shares_a_counter_with_the_remote(
    plain_registry: Path, tmp_path: Path, clock: Clock
) -> None:
    """Made without seeing the remote's tag: pushing it would give two events one N."""
    a = plain_registry
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(a, "remote", "add", "origin", str(origin))
    git(a, "push", "-q", "origin", "--tags")
    b = tmp_path / "b"
    git(tmp_path, "clone", "-q", str(origin), str(b))
    tether(b, "promote", "m", "v0.2.0", "dev", "--push", check=True, env=clock.env())
    tether(a, "promote", "m", "v0.1.0", "prod", check=True, env=clock.env())  # m#prod#1
    refused = tether(a, "push")
    assert refused.returncode == 2, refused.stdout
    assert "m#prod#1 (here) and m#dev#1 (on origin)" in refused.stderr
    assert "nothing was pushed" in refused.stderr
    assert "git fetch --tags origin" in refused.stderr
    assert tags(origin) == {"m@v0.1.0", "m@v0.2.0", "m#dev#1"}


def test_push_of_a_registry_without_dvc_data(plain_registry: Path, tmp_path: Path) -> None:
    """A registry GTO or git wrote in a repository without DVC: only tags to push."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(plain_registry, "remote", "add", "origin", str(origin))
    done = tether(plain_registry, "push")
    assert done.returncode == 0, done.stderr
    assert "No release holds DVC data, so there is no data to push." in done.stdout
    assert "Pushed 2 registry tag(s) to origin in one atomic push: m@v0.1.0, m@v0.2.0" in (
        done.stdout
    )
    assert tags(origin) == {"m@v0.1.0", "m@v0.2.0"}


def test_push_to_an_s3_remote_uploads_every_object_once(
    template_repo: Path,
    tmp_path: Path,
    clock: Clock,
    s3_endpoint: str,  # noqa: F811 (the fixture)
    s3_env: None,  # noqa: F811 (the fixture)
) -> None:
    """The S3-compatible server on 127.0.0.1 as the team's shared storage: every object
    of the release arrives, rehashed, and a second push finds them all present."""
    import boto3

    from tests.verify.conftest import BUCKET, add_s3_remote

    a = template_repo
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(a, "remote", "add", "origin", str(origin))
    tether(a, "release", NAME, check=True, env=clock.env())
    add_s3_remote(a, f"s3://{BUCKET}/push", s3_endpoint, default=True)

    done = tether(a, "push", "--json", env=clock.env())
    assert done.returncode == 0, done.stderr
    release = json.loads(done.stdout)["releases"][0]
    assert release["uploaded"] == release["objects"] >= 4
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    stored = {
        item["Key"].removeprefix("push/files/md5/").replace("/", "")
        for item in client.list_objects_v2(Bucket=BUCKET, Prefix="push/")["Contents"]
    }
    manifest = json.loads(tether(a, "manifest", f"{NAME}@v0.1.0", "--json", check=True).stdout)
    assert manifest["outs"]["models/model.pkl"] in stored

    again = json.loads(tether(a, "push", "--json", check=True, env=clock.env()).stdout)
    assert again["releases"][0]["uploaded"] == 0
