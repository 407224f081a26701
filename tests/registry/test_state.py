"""Reading the registry from tags: order by counter, unassign and deregister honoured.

These build the registry from tag records directly (no git), one rule per test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import git
from tether.backends.git import TagRef
from tether.registry import state
from tether.registry.tags import Reference
from tether.release.actions import rollback_target

C1, C2, C3 = "1" * 40, "2" * 40, "3" * 40
T0 = 1_790_000_000


def tag(name: str, commit: str, time: int = T0, annotated: bool = True) -> TagRef:
    return TagRef(
        name=name,
        annotated=annotated,
        target=commit,
        tagger_name="t",
        tagger_email="t@x",
        time=time,
        message=f"{name}\n",
    )


def registry(*refs: TagRef) -> state.Registry:
    return state.build(list(refs))


BASE = (tag("m@v0.1.0", C1), tag("m@v0.2.0", C2), tag("m@v0.10.0", C3))


def test_latest_is_highest_semver_not_text_order() -> None:
    assert registry(*BASE).artifacts["m"].latest == "v0.10.0"


def test_stage_resolved_by_counter_when_tags_share_a_second() -> None:
    # Two assignments in the same second: the counter says #prod#2 came last.
    reg = registry(*BASE, tag("m#prod#2", C1, T0 + 5), tag("m#prod#1", C2, T0 + 5))
    assert reg.artifacts["m"].stages == {"prod": "v0.1.0"}


def test_stage_resolved_by_counter_even_against_tag_time() -> None:
    # A clock that went backwards does not matter either.
    reg = registry(*BASE, tag("m#prod#1", C1, T0 + 9), tag("m#prod#2", C2, T0 + 1))
    assert reg.artifacts["m"].stages == {"prod": "v0.2.0"}


def test_unassign_falls_back_to_the_earlier_assignment() -> None:
    reg = registry(*BASE, tag("m#prod#1", C1), tag("m#prod#2", C2), tag("m#prod!#3", C2))
    assert reg.artifacts["m"].stages == {"prod": "v0.1.0"}
    reg = registry(*BASE, tag("m#prod#1", C1), tag("m#prod!#2", C1))
    assert reg.artifacts["m"].stages == {}
    assert state.show_dict(reg) == {
        "m": {"version": "v0.10.0", "stage": {}, "registered": True, "active": True}
    }


def test_deregistered_version_leaves_latest_and_stages() -> None:
    reg = registry(*BASE, tag("m#prod#1", C1), tag("m#prod#2", C3), tag("m@v0.10.0!", C3, T0 + 1))
    artifact = reg.artifacts["m"]
    assert artifact.latest == "v0.2.0"
    assert artifact.stages == {"prod": "v0.1.0"}
    assert state.resolve_reference(reg, Reference("m", version="v0.10.0")) is None
    assert "deregistered" in state.unresolved_hint(reg, Reference("m", version="v0.10.0"))


def test_lightweight_tags_are_ignored_but_reserve_names() -> None:
    reg = registry(*BASE, tag("m#prod#7", C1, annotated=False))
    assert reg.artifacts["m"].stages == {}
    assert "m#prod#7" in reg.tag_names


def test_deprecated_artifact_is_hidden_from_show() -> None:
    reg = registry(tag("m@v0.1.0", C1), tag("m@deprecated", C1, T0 + 1), tag("n@v1.0.0", C2))
    assert list(state.show_dict(reg)) == ["n"]


def test_stages_listed_for_every_artifact() -> None:
    reg = registry(
        tag("a@v1.0.0", C1), tag("b@v1.0.0", C2), tag("a#prod#1", C1), tag("b#dev#1", C2)
    )
    shown = state.show_dict(reg)
    assert shown["a"]["stage"] == {"dev": None, "prod": "v1.0.0"}
    assert shown["b"]["stage"] == {"dev": "v1.0.0", "prod": None}


def test_assigning_an_unregistered_commit_names_it_by_sha() -> None:
    reg = registry(tag("m#prod#1", C1))
    assert reg.artifacts["m"].stages == {"prod": C1}


def test_events_newest_first_with_registrations_slotted_by_time() -> None:
    reg = registry(
        tag("m@v0.1.0", C1, T0),
        tag("m#prod#1", C1, T0 + 1),
        tag("m@v0.2.0", C2, T0 + 2),
        tag("m#prod#2", C2, T0 + 3),
    )
    assert [e.tag for e in reg.events()] == ["m#prod#2", "m@v0.2.0", "m#prod#1", "m@v0.1.0"]


def test_rollback_walks_back_a_stack_of_holders() -> None:
    refs = [*BASE, tag("m#prod#1", C1), tag("m#prod#2", C2), tag("m#prod#3", C3)]
    assert rollback_target(registry(*refs).artifacts["m"], "prod") == "v0.2.0"
    refs.append(tag("m#prod#4", C2))  # rolled back to v0.2.0
    assert rollback_target(registry(*refs).artifacts["m"], "prod") == "v0.1.0"
    refs.append(tag("m#prod#5", C1))  # and again to v0.1.0: nothing older
    assert rollback_target(registry(*refs).artifacts["m"], "prod") is None


def test_resolve_references() -> None:
    reg = registry(*BASE, tag("m#prod#1", C2))
    assert state.resolve_reference(reg, Reference("m", version="v0.1.0")) == C1
    assert state.resolve_reference(reg, Reference("m", version="latest")) == C3
    assert state.resolve_reference(reg, Reference("m", stage="prod")) == C2
    assert state.resolve_reference(reg, Reference("m", stage="dev")) is None
    assert "stages: prod=v0.2.0" in state.unresolved_hint(reg, Reference("m", stage="dev"))
    assert "No artifact 'x'" in state.unresolved_hint(reg, Reference("x", stage="dev"))


def test_log_interleaves_artifacts_by_time_keeping_each_counter_order() -> None:
    reg = registry(
        tag("a@v1.0.0", C1, T0), tag("b@v1.0.0", C2, T0 + 1),
        tag("a#prod#1", C1, T0 + 2), tag("b#prod#1", C2, T0 + 3), tag("a#dev#2", C1, T0 + 4),
    )  # fmt: skip
    assert [e.tag for e in reg.events()] == [
        "a#dev#2",
        "b#prod#1",
        "a#prod#1",
        "b@v1.0.0",
        "a@v1.0.0",
    ]
    assert [e.tag for e in reg.events("b")] == ["b#prod#1", "b@v1.0.0"]


def test_rollback_skips_deregistered_versions() -> None:
    refs = [
        *BASE,
        tag("m#prod#1", C1),
        tag("m#prod#2", C2),
        tag("m#prod#3", C3),
        tag("m@v0.2.0!", C2, T0 + 1),
    ]
    assert rollback_target(registry(*refs).artifacts["m"], "prod") == "v0.1.0"


def test_show_of_a_deprecated_artifact_names_it_in_the_hint(tmp_path: Path) -> None:
    """Was: the hint lacked its f-prefix, so users read a literal `{name}`."""
    from tether.errors import UsageError

    root = tmp_path / "r"
    git(tmp_path, "init", "-q", str(root))
    git(root, "commit", "-q", "--allow-empty", "-m", "one")
    git(root, "tag", "-a", "-m", "register", "clf@v0.1.0#1")
    git(root, "tag", "-a", "-m", "deprecate", "clf@deprecated#2")
    with pytest.raises(UsageError) as caught:
        state.show(root, "clf")
    assert caught.value.message.startswith("clf is deprecated (tag clf@deprecated#2")
    assert caught.value.hint == "Run `tether log clf`."
