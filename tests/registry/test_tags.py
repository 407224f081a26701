"""The tag grammar: parsing GTO's tags, writing tether's, validating names."""

from __future__ import annotations

import pytest

from tether.errors import UsageError
from tether.registry.tags import (
    Action,
    ParsedTag,
    Reference,
    SemVer,
    format_tag,
    next_counter,
    parse_reference,
    parse_tag,
    validate_name,
    validate_stage,
    validate_version,
)


@pytest.mark.parametrize(
    ("tag", "parsed"),
    [
        ("model@v1.2.3", ParsedTag("model", Action.REGISTER, version="v1.2.3")),
        ("model@v1.2.3!", ParsedTag("model", Action.DEREGISTER, version="v1.2.3")),
        ("model@v1.2.3#4", ParsedTag("model", Action.REGISTER, version="v1.2.3", counter=4)),
        ("model#prod#7", ParsedTag("model", Action.ASSIGN, stage="prod", counter=7)),
        ("model#prod!#8", ParsedTag("model", Action.UNASSIGN, stage="prod", counter=8)),
        ("model#prod", ParsedTag("model", Action.ASSIGN, stage="prod")),
        ("model@deprecated", ParsedTag("model", Action.DEPRECATE)),
        (
            "cancer-classifier@v0.1.0-rc.1+build.5",
            ParsedTag("cancer-classifier", Action.REGISTER, version="v0.1.0-rc.1+build.5"),
        ),
        ("path/to=model#dev#1", ParsedTag("path/to:model", Action.ASSIGN, stage="dev", counter=1)),
    ],
)
def test_parse_tag_reads_every_gto_form(tag: str, parsed: ParsedTag) -> None:
    assert parse_tag(tag) == parsed


@pytest.mark.parametrize(
    "tag",
    [
        "v1.0.0",
        "model@1.0.0",
        "model@v1.0",
        "model@v01.0.0",
        "model#prod#x",
        "-model@v1.0.0",
        "model@v1.0.0\n",
        "model#prod#1\n",
        "model@created",
        "model@v1.0.0!!",
        "release-2024",
    ],
)
def test_parse_tag_ignores_other_tags(tag: str) -> None:
    assert parse_tag(tag) is None


def test_format_tag_round_trips() -> None:
    assert format_tag(Action.REGISTER, "m", version="v1.0.0") == "m@v1.0.0"
    assert format_tag(Action.DEREGISTER, "m", version="v1.0.0") == "m@v1.0.0!"
    assert format_tag(Action.ASSIGN, "m", stage="prod", counter=3) == "m#prod#3"
    assert format_tag(Action.UNASSIGN, "dir:m", stage="prod", counter=4) == "dir=m#prod!#4"


def test_next_counter_counts_all_tags_of_the_artifact() -> None:
    names = ["m#prod#3", "m@v1.0.0", "other#prod#9", "m#dev!#5", "unrelated"]
    assert next_counter(names, "m") == 6
    assert next_counter(names, "new") == 1


@pytest.mark.parametrize(
    "name",
    [
        "-model",
        "--upload-pack=x",
        "a..b",
        "a//b",
        "model\n",
        "my model",
        "model@{1}",
        "model/",
        "/model",
        "mo del",
        "",
        "model-",
        "dir/../m:x",
        "a:b:c",
        "m@v1.0.0",
    ],
)
def test_validate_name_refuses_what_git_could_misread(name: str) -> None:
    with pytest.raises(UsageError, match="invalid artifact name"):
        validate_name(name)


@pytest.mark.parametrize("name", ["cancer-classifier", "m", "team/model_2", "models/sub:clf"])
def test_validate_name_accepts_plain_names(name: str) -> None:
    assert validate_name(name) == name


def test_validate_stage_and_version() -> None:
    assert validate_stage("prod") == "prod"
    assert validate_version("v2.0.0-rc.1") == "v2.0.0-rc.1"
    for bad in ("pro d", "-prod", "prod\n", "a/b"):
        with pytest.raises(UsageError, match="invalid stage"):
            validate_stage(bad)
    for bad in ("1.0.0", "v1.0", "v1.0.0\n", "vv1.0.0", "v1.0.0.0"):
        with pytest.raises(UsageError, match="invalid version"):
            validate_version(bad)


def test_names_that_would_fail_inside_git_tag_are_refused_first() -> None:
    """A loose tag is a file: a 300-character stage passed validation and then failed
    in `git tag` (exit 3). Each part is capped, with the length in the message."""
    assert validate_stage("s" * 64) == "s" * 64
    with pytest.raises(
        UsageError, match=r"'s{40}'\.\.\. \(300 characters\): 300 characters, at most 64"
    ):
        validate_stage("s" * 300)
    assert validate_name("team/" + "m" * 100) == "team/" + "m" * 100
    with pytest.raises(UsageError, match="a part of it has 101 characters"):
        validate_name("team/" + "m" * 101)
    with pytest.raises(UsageError, match="at most 128 characters"):
        validate_version("v1.0.0-" + "a" * 200)


@pytest.mark.parametrize("stage", ["latest", "deprecated", "Latest"])
def test_stages_that_read_as_reference_words_are_refused(stage: str) -> None:
    with pytest.raises(UsageError, match=f"NAME@{stage.lower()} already means something"):
        validate_stage(stage)


def test_semver_precedence_not_text_order() -> None:
    versions = ["v1.9.0", "v1.10.0", "v1.10.0-rc.2", "v1.10.0-rc.10", "v0.9.9"]
    assert sorted(versions, key=SemVer) == [
        "v0.9.9",
        "v1.9.0",
        "v1.10.0-rc.2",
        "v1.10.0-rc.10",
        "v1.10.0",
    ]
    assert SemVer("v1.2.3").bump("minor") == "v1.3.0"
    assert SemVer("v1.2.3").bump("major") == "v2.0.0"
    assert SemVer("v1.2.3").bump("patch") == "v1.2.4"


def test_parse_reference() -> None:
    assert parse_reference("cancer-classifier@v1.0.0") == Reference(
        "cancer-classifier", version="v1.0.0"
    )
    assert parse_reference("cancer-classifier#prod") == Reference("cancer-classifier", stage="prod")
    assert parse_reference("m@latest") == Reference("m", version="latest")
    for not_ref in ("HEAD", "HEAD@{1}", "main", "m#prod#3", "v1.0.0", "-m@v1.0.0"):
        assert parse_reference(not_ref) is None


def test_release_version_is_the_one_semver_grammar() -> None:
    from tether.registry.tags import SemVer, release_version

    assert release_version("v1.2.3") == SemVer("v1.2.3")
    assert release_version("1.2.3-rc.1") == SemVer("v1.2.3-rc.1")
    assert release_version("dir=model@v2.0.0+build.5") == SemVer("v2.0.0")
    for other in ("v1.2", "model#prod", "v01.2.3", "release-1", "model@v1.0.0!"):
        assert release_version(other) is None, other
    assert SemVer("v1.0.0-rc.1") < SemVer("v1.0.0") < SemVer("v1.10.0")
