"""The pieces of verify at their own level: tolerance rules, metric comparison,
manifest reading, environment differences, and the terminal/JSON renderers."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from tests.helpers import commit_all, git, init_repo
from tether.backends.git import GitRepo
from tether.environment import capture, differences
from tether.errors import ForgedManifest, UsageError
from tether.registry.manifest import Manifest, in_tag, render
from tether.verify.api import OutputComparison, VerifyResult, parse_tolerance
from tether.verify.compare import check_tolerances, compare_metrics, output_status, parse_metrics
from tether.verify.manifest import from_manifest

# tolerance --------------------------------------------------------------------


def test_parse_tolerance() -> None:
    tol = parse_tolerance("roc_auc=1e-6")
    assert (tol.metric, tol.bound) == ("roc_auc", 1e-6)
    assert tol.applies_to("reports/metrics.json", "roc_auc")
    scoped = parse_tolerance("reports/metrics.json:test.acc=0.01")
    assert scoped.applies_to("reports/metrics.json", "test.acc")
    assert not scoped.applies_to("other.json", "test.acc")


@pytest.mark.parametrize(
    "text",
    [
        "acc",
        "=0.1",
        "acc=",
        "acc=abc",
        "acc=-1",
        "acc=nan",
        "acc=inf",
        "x:y:z=1",
        ":acc=1",
        "m.json:=1",
    ],
)
def test_bad_tolerances_are_refused_naming_the_accepted_forms(text: str) -> None:
    with pytest.raises(UsageError) as refused:
        parse_tolerance(text)
    assert refused.value.message == f"--tolerance {text!r} is not METRIC=ABS or FILE:METRIC=ABS"
    assert refused.value.hint == (
        "Accepted forms: METRIC=ABS (accuracy=0.001; nested keys dotted, test.accuracy=0.001) "
        "or FILE:METRIC=ABS for one metrics file (reports/metrics.json:accuracy=0.001), "
        "where ABS is a number >= 0."
    )


RECORDED = {"m.json": {"acc": 0.9, "loss.train": 0.2}, "sub/e.json": {"acc": 0.8}}


def test_tolerances_must_name_a_recorded_metric() -> None:
    ok = [parse_tolerance(t) for t in ("acc=0.1", "m.json:loss.train=0.1", "sub/e.json:acc=0")]
    check_tolerances(ok, RECORDED, "v1")  # no error
    bad = [parse_tolerance(t) for t in ("nosuch=1e-6", "e.json:acc=1", "acc=1")]
    with pytest.raises(UsageError) as refused:
        check_tolerances(bad, RECORDED, "v1")
    assert refused.value.message == (
        "--tolerance names metrics that v1 did not record: 'nosuch', 'e.json:acc'"
    )
    assert refused.value.hint == (
        "Metrics recorded at v1: acc, loss.train "
        "(as FILE:METRIC: m.json:acc, m.json:loss.train, sub/e.json:acc)."
    )


def test_a_tolerance_on_metrics_that_could_not_be_read_says_how_to_read_them() -> None:
    with pytest.raises(UsageError) as refused:
        check_tolerances([parse_tolerance("f1=0.1")], {}, "v1", ["big.json"], "ab" * 20)
    assert refused.value.message == (
        "--tolerance names a metric not found in the metrics of v1 that could be read: 'f1'"
    )
    assert refused.value.hint == (
        "No recorded metric values of v1 could be read. Recorded values could not be read "
        "from big.json, so no tolerance can apply there; for a file DVC stores, fetch it "
        "(`dvc fetch --rev abababab`) or verify with --from-remote."
    )
    with pytest.raises(UsageError, match="v1 records no metrics: leave out --tolerance"):
        check_tolerances([parse_tolerance("f1=0.1")], {}, "v1")


# metrics ----------------------------------------------------------------------


def test_metrics_compare_by_name_with_tolerances() -> None:
    recorded = parse_metrics(
        "m.json", b'{"acc": 0.91, "loss": {"test": 0.2}, "n": 10, "model": "lr"}'
    )
    reproduced = parse_metrics(
        "m.json", b'{"acc": 0.9100004, "loss": {"test": 0.3}, "n": 10, "model": "lr", "new": 1}'
    )
    assert recorded is not None and reproduced is not None
    result = {
        m.name: m
        for m in compare_metrics(
            "m.json",
            recorded,
            reproduced,
            [parse_tolerance("acc=1e-6"), parse_tolerance("loss.test=0.01")],
        )
    }
    assert result["acc"].status == "within tolerance"
    assert result["acc"].difference == pytest.approx(4e-7)
    assert result["loss.test"].status == "differs"
    assert result["n"].status == "exact" and result["model"].status == "exact"
    assert result["new"].status == "missing"


def test_an_int_and_an_equal_float_are_not_exact() -> None:
    (m,) = compare_metrics("m.json", {"n": 1}, {"n": 1.0}, [])
    assert m.status == "differs" and m.difference == 0.0


def test_output_status() -> None:
    within = compare_metrics(
        "m.json", {"acc": 0.9}, {"acc": 0.9000001}, [parse_tolerance("acc=1e-6")]
    )
    assert output_status("aa", "aa", []) == "exact"
    assert output_status("aa", None, []) == "missing"
    assert output_status("aa", "bb", within) == "within tolerance"
    # Bytes differ but no metric does: that is not a tolerated difference.
    assert (
        output_status("aa", "bb", compare_metrics("m.json", {"acc": 1}, {"acc": 1}, []))
        == "differs"
    )
    assert output_status("aa", "bb", []) == "differs"


def test_yaml_metrics_and_unreadable_ones() -> None:
    assert parse_metrics("m.yaml", b"acc: 0.5\nnested:\n  x: 1\n") == {"acc": 0.5, "nested.x": 1}
    assert parse_metrics("m.json", b"[1, 2]") is None
    assert parse_metrics("m.json", b"{not json") is None
    assert parse_metrics("m.json", None) is None


# manifest ---------------------------------------------------------------------


def _manifest(**overrides) -> Manifest:
    fields = {
        "artifact": "model", "version": "v0.1.0", "path": "model.pkl", "commit": "c" * 40,
        "dvc_lock_sha256": "0" * 64, "metrics": {"m.json": {"acc": 1}}, "params": {},
        "outs": {"model.pkl": "abc"}, "deps": {}, "overrides": [], "python": "3.11.7",
        "packages": {"numpy": "2.0.0"},
    }  # fmt: skip
    fields.update(overrides)
    return Manifest(**fields)


def test_expected_from_a_manifest_leaves_out_what_it_did_not_record() -> None:
    expected = from_manifest(_manifest())
    assert expected.outputs == {"model.pkl": "abc"}
    assert expected.metrics == {"m.json": {"acc": 1}}
    assert expected.environment == {"python": "3.11.7", "packages": {"numpy": "2.0.0"}}
    full = from_manifest(_manifest(platform="Linux-x", threads={"cpu_count": 2}))
    assert full.environment["platform"] == "Linux-x"
    assert full.environment["threads"] == {"cpu_count": 2}


def test_manifest_read_from_an_annotated_tag(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo", dvc=False)
    head = commit_all(repo, "one")
    git(repo, "tag", "-a", "with", "-m", render(_manifest(commit=head), "release 1"))
    git(repo, "tag", "-a", "copied", "-m", render(_manifest(), "release 1"))
    git(repo, "tag", "-a", "bare", "-m", json.dumps({"outs": {"a": "1"}}))
    git(repo, "tag", "-a", "plain", "-m", "just words")
    git(repo, "tag", "light")
    g = GitRepo(repo)
    found = in_tag(g, "with")
    assert found == _manifest(commit=head)
    with pytest.raises(ForgedManifest, match="the manifest does not describe this tag"):
        in_tag(g, "copied")  # its manifest names another commit
    assert in_tag(g, "bare") is None  # not a manifest tether release wrote
    assert in_tag(g, "plain") is None
    assert in_tag(g, "light") is None
    assert in_tag(g, "none") is None
    assert in_tag(g, "--help") is None


# environment ------------------------------------------------------------------


def test_environment_differences_only_for_recorded_keys() -> None:
    now = capture(["pytest", "no-such-package"])
    assert now["packages"]["no-such-package"] is None
    assert now["packages"]["pytest"]
    recorded = {
        "python": now["python"],
        "packages": {"pytest": "0.1"},
        "threads": {"OMP_NUM_THREADS": "8"},
    }
    found = {d.key: (d.recorded, d.current) for d in differences(recorded, now)}
    assert found == {
        "packages.pytest": ("0.1", now["packages"]["pytest"]),
        "threads.OMP_NUM_THREADS": ("8", now["threads"]["OMP_NUM_THREADS"]),
    }


# renderers --------------------------------------------------------------------


def _result(status: str = "exact") -> VerifyResult:
    return VerifyResult(
        rev="v9",
        commit="0123456789abcdef" * 2 + "01234567",
        source="local cache",
        outputs=[
            OutputComparison("model.pkl", "train", "a" * 32, "a" * 32, "exact"),
            OutputComparison("stamp.txt", "stamp", "b" * 32, "c" * 32, status),
        ],
        environment_now={"python": "3.11.7", "platform": "Linux", "threads": {"cpu_count": 2}},
    )


def _rendered(result: VerifyResult) -> str:
    from tether.verify.render import terminal

    buffer = io.StringIO()
    terminal(result, Console(file=buffer, width=200, highlight=False))
    return buffer.getvalue()


def test_render_names_a_differing_output_with_both_hashes() -> None:
    text = _rendered(_result("differs"))
    assert "verify v9 (01234567), inputs from local cache" in text
    assert f"  stamp.txt differs: recorded {'b' * 32}, reproduced {'c' * 32}" in text
    assert "NOT reproduced: 1 of 2 outputs differ from v9: stamp.txt" in text
    assert (
        "environment: no release manifest to compare with; now Python 3.11.7 on Linux, 2 CPUs"
        in text
    )


def test_render_all_exact() -> None:
    text = _rendered(_result("exact"))
    assert "bit-exact: all 2 outputs of v9 reproduced exactly" in text
    assert "differs" not in text


@pytest.mark.parametrize("status", ["exact", "differs"])
def test_render_prints_markup_in_repository_names_as_written(status: str) -> None:
    """Paths, stage and metric names come from the repository: rich markup in them
    (`[/x]` would raise, `[red]x` would restyle) is printed literally, in every
    table cell, title and summary line."""
    from tether.verify.compare import MetricComparison

    hostile = VerifyResult(
        rev="v[/x]",
        commit="0123456789abcdef" * 2 + "01234567",
        source="local cache",
        outputs=[
            OutputComparison("[/x]", "[bold]stage", "a" * 32, "a" * 32, "exact"),
            OutputComparison("out/[red]x", "s", "b" * 32, "c" * 32, status),
        ],
        metrics=[
            MetricComparison("[/x].json", "[red]acc", 0.5, 0.5, 0.0, "exact"),
            MetricComparison("[/x].json", "\x1b[31mloss", 0.1, 0.1, 0.0, "exact"),
        ],
        environment_now={"python": "3.11.7", "platform": "Linux", "threads": {"cpu_count": 2}},
    )
    from tether.verify.render import terminal

    buffer = io.StringIO()
    terminal(hostile, Console(file=buffer, width=200, force_terminal=True, highlight=False))
    text = buffer.getvalue()
    assert "verify v[/x] (01234567)" in text
    for name in ("[/x]", "[bold]stage", "out/[red]x", "metrics: [/x].json", "[red]acc"):
        assert name in text, name
    assert "\x1b[31mloss" not in text and "?[31mloss" in text  # no escape reaches the terminal
    if status == "differs":
        assert "NOT reproduced" in text and "differ from v[/x]: out/[red]x" in text
    else:
        assert "all 2 outputs of v[/x] reproduced exactly" in text


def test_progress_bar_shows_markup_in_ref_and_stage_names_as_written() -> None:
    """On a terminal the bar's description holds REF and stage names: as text."""
    from tether.verify.render import ProgressView, progress_bar
    from tether.verify.reproduce import Event

    buffer = io.StringIO()
    console = Console(file=buffer, width=120, force_terminal=True, force_interactive=True)
    with progress_bar(console) as progress:
        view = ProgressView(progress, console, "v[/x]")
        view(Event("step", "fetch", "start"))
        view(Event("stage", "[red]make", "start", index=1, total=1))
        progress.refresh()
        view(Event("stage", "[red]make", "done", index=1, total=1, seconds=0.5))
    text = buffer.getvalue()
    assert "verify v[/x]: stage [red]make" in text
    assert "  ran [red]make in 0.5s" in text


def test_command_exit_code_and_json_with_the_api_replaced(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import tether.verify.api
    from tether.cli import app

    seen = {}

    def fake_verify(root, rev, options, **kw):  # type: ignore[no-untyped-def]
        seen.update(kw, rev=rev, options=options)
        return _result("differs")

    monkeypatch.setattr(tether.verify.api, "verify", fake_verify)
    init_repo(tmp_path / "repo", dvc=False)
    runner = CliRunner()
    out = runner.invoke(
        app, ["verify", "v9", "--json", "--tolerance", "acc=0.5", "-C", str(tmp_path / "repo")]
    )
    assert out.exit_code == 1
    report = json.loads(out.stdout)
    assert report["ok"] is False
    assert [o["status"] for o in report["outputs"]] == ["exact", "differs"]
    options = seen["options"]
    assert seen["rev"] == "v9" and options.tolerances[0].bound == 0.5
    assert options.from_remote is False


def test_the_outputs_table_keeps_whole_md5s_at_80_columns() -> None:
    from tether.verify.render import terminal

    buffer = io.StringIO()
    terminal(_result("differs"), Console(file=buffer, width=80, highlight=False))
    rows = [
        line for line in buffer.getvalue().splitlines() if line.lstrip().startswith("stamp.txt")
    ]
    assert f"{'b' * 32} -> {'c' * 32}" in rows[0]
    assert "…" not in buffer.getvalue()


# NaN and infinite metrics are values -------------------------------------------


def _nan_result() -> VerifyResult:
    result = _result("exact")
    recorded = {"acc": float("nan"), "loss": float("inf"), "f1": 0.5}
    result.metrics = compare_metrics("m.json", recorded, dict(recorded), [])
    return result


def test_nan_metric_reproduced_as_nan_is_exact_and_shown_as_a_value() -> None:
    statuses = {m.name: m.status for m in _nan_result().metrics}
    assert statuses == {"acc": "exact", "f1": "exact", "loss": "exact"}
    (changed,) = compare_metrics("m.json", {"acc": float("nan")}, {"acc": 0.5}, [])
    assert changed.status == "differs"

    text = _rendered(_nan_result())
    assert "nan" not in text and "inf " not in text
    assert "NaN" in text and "Inf" in text
    assert "differs" not in text
    assert "bit-exact: all 2 outputs of v9 reproduced exactly" in text


def test_verify_json_writes_nan_as_diff_json_does(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import tether.verify.api
    from tether.cli import app

    monkeypatch.setattr(tether.verify.api, "verify", lambda root, rev, options, **kw: _nan_result())
    init_repo(tmp_path / "repo", dvc=False)
    out = CliRunner().invoke(app, ["verify", "v9", "--json", "-C", str(tmp_path / "repo")])
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)  # strict JSON: json.loads accepts NaN, so check text
    assert "NaN" in out.stdout and ": NaN" not in out.stdout
    values = {m["name"]: (m["recorded"], m["reproduced"]) for m in report["metrics"]}
    assert values["acc"] == ("NaN", "NaN")
    assert values["loss"] == ("Infinity", "Infinity")


def test_release_manifest_keeps_nan_metrics_as_values() -> None:
    from tether.registry.manifest import parse

    built = _manifest(metrics={"m.json": {"acc": float("nan"), "loss": float("-inf")}})
    message = render(built, "release 1")  # raised "Out of range float values" before
    assert '"acc": "NaN"' in message and '"loss": "-Infinity"' in message
    back = parse(message)
    assert back is not None
    assert back.metrics["m.json"]["loss"] == float("-inf")
    assert back.metrics["m.json"]["acc"] != back.metrics["m.json"]["acc"]  # NaN
