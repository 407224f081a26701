"""The layers on their own: gate grammar, renderers, YAML 1.2 parsing, key rules."""

from __future__ import annotations

import math

import pytest

from tether.errors import UsageError
from tether.formats import DuplicateKey, FormatError, extract_metrics, flatten, parse, select_keys
from tether.metrics.collect import ReadError
from tether.metrics.diff import MetricsDiff, Row
from tether.metrics.gates import evaluate_gates, parse_rule
from tether.metrics.render import diff_markdown, json_safe, md_escape


def _diff(*rows: Row, errors: dict | None = None) -> MetricsDiff:
    return MetricsDiff("main", "pr", list(rows), errors or {"main": [], "pr": []})


@pytest.mark.parametrize(
    ("text", "old", "new", "breached"),
    [
        ("f1<-0.01", 0.90, 0.885, True),
        ("f1<-0.01", 0.90, 0.895, False),
        ("loss>5%", 0.40, 0.43, True),
        ("loss>5%", 0.40, 0.41, False),
        ("loss > 5 %", 0.0, 0.01, True),
        ("latency>=10", 100, 110, True),
        ("acc<=-1e-2", 0.5, 0.49, True),
    ],
)
def test_rule_grammar(text: str, old: float, new: float, breached: bool) -> None:
    assert parse_rule(text).breached_by(old, new) is breached


@pytest.mark.parametrize("text", ["f1", "f1<", "<0.1", "f1<0.1x", "f1=0.1", "f1<-0.01,loss>5%"])
def test_bad_rules(text: str) -> None:
    with pytest.raises(UsageError, match="cannot read gate rule"):
        parse_rule(text)


def test_verdicts_word_direction_and_nan() -> None:
    diff = _diff(
        Row("metrics", "m.json", "loss", 0.5, 0.6),
        Row("metrics", "m.json", "f1", 0.5, math.nan),
        Row("metrics", "m.json", "name", "a", "b"),
    )
    loss, f1, name = evaluate_gates(diff, ["loss>10%", "f1<0", "name<0"], lower_is_better=["loss"])
    assert (loss.passed, loss.message) == (
        False,
        "FAIL loss worsened by 0.1 (20%): 0.5 -> 0.6, gate `loss>10%`",
    )
    assert not f1.passed and "NaN" in f1.message
    assert not name.passed and "no number at main" in name.message


def test_markdown_table_exactly() -> None:
    diff = _diff(
        Row("metrics", "eval/m.json", "f1", 0.8, 0.75),
        Row("metrics", "eval/m.json", "same", 1, 1),
        Row("params", "params.yaml", "model|name", "a", "b"),
        errors={
            "main": [ReadError("c.json", "missing", "Run `dvc fetch --rev main`, then retry.")],
            "pr": [],
        },
    )
    assert diff_markdown(diff) == (
        "**Metrics** (main → pr)\n"
        "\n"
        "| Path | Key | main | pr | Change | % |\n"
        "|---|---|--:|--:|--:|--:|\n"
        "| eval/m.json | f1 | 0.8 | 0.75 | -0.05 🔻 | -6.25% |\n"
        "\n"
        "**Params** (main → pr)\n"
        "\n"
        "| Path | Key | main | pr | Change | % |\n"
        "|---|---|--:|--:|--:|--:|\n"
        "| params.yaml | model\\|name | a | b | changed |  |\n"
        "\n"
        "**Could not read:**\n"
        "\n"
        "- `main` c.json: missing. Fix: Run \\`dvc fetch --rev main\\`, then retry.\n"
    )


def test_md_escape_neutralises_hostile_text() -> None:
    assert md_escape("a|b\nc") == "a\\|b c"
    assert md_escape("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert\\(1\\)&gt;"
    assert md_escape("cc @admin, fixes #12") == "cc @&#8203;admin, fixes #&#8203;12"
    assert md_escape("\x1b[31mred") == "?\\[31mred"


def test_json_safe() -> None:
    assert json_safe({"a": [math.nan, math.inf, -math.inf, 1.5]}) == {
        "a": ["NaN", "Infinity", "-Infinity", 1.5]
    }


def test_yaml_is_read_as_yaml_1_2_like_dvc() -> None:
    assert parse("params.yaml", b"lr: 1e-3\nflag: yes\non: off\nbig: 1_000\nnone: ~\n") == {
        "lr": 0.001,
        "flag": "yes",
        "on": "off",
        "big": 1000,
        "none": None,
    }
    assert parse("m.toml", b"a = 1.5\n") == {"a": 1.5}
    with pytest.raises(FormatError, match="not valid JSON"):
        parse("m.json", b"{")


def test_dvc_key_rules() -> None:
    assert extract_metrics({"a": 1, "b": [1], "c": None, "d": {"e": {}}, "f": True}) == {
        "a": 1,
        "f": True,
    }
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": {}}) == {"a.b": 1, "a.c": "[1, 2]"}
    assert flatten(0.5) == {"": 0.5}
    with pytest.raises(DuplicateKey):
        flatten({"a": {"b": 1}, "a.b": 2})
    assert select_keys(
        {"train": {"lr": 1, "seed": 2}, "model": {"x": 1}}, ["train.lr", "model", "nope.x"]
    ) == {
        "train": {"lr": 1},
        "model": {"x": 1},
    }
