"""A metric with no value on a batch (no positives among the labels, none predicted,
one class) is undefined: shown so and left out of the gates, never printed as 0 and
never a breach (an adversarial review's batch of 3 negatives all predicted right
showed f1 falling 100 % and exited 1)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import tether
from tests.monitor.conftest import Example, split_of
from tether.monitor import perf
from tether.monitor.reference import predict

RECORDED = [
    ("metrics.json", name, value)
    for name, value in [
        ("accuracy", 0.97),
        ("f1", 0.98),
        ("precision", 0.97),
        ("recall", 0.99),
        ("roc_auc", 0.99),
    ]
]


def _by_name(metrics: list[perf.Metric]) -> dict[str, perf.Metric]:
    return {m.name: m for m in metrics}


def test_negatives_all_predicted_right_leave_f1_precision_recall_undefined() -> None:
    y = np.array([0, 0, 0])
    metrics = _by_name(perf.compute(RECORDED, y, np.array([0.1, 0.2, 0.3]), 0.5))
    assert metrics["accuracy"].value == 1.0
    for name in ("f1", "precision", "recall", "roc_auc"):
        assert metrics[name].value is None, name
        assert metrics[name].note.startswith("undefined: "), name
    assert metrics["recall"].note == "undefined: the labels hold no positives"
    assert metrics["precision"].note == "undefined: the model predicted no positives"


def test_a_missed_positive_is_a_real_zero_and_still_breaches() -> None:
    y = np.array([0, 0, 1])
    metrics = _by_name(perf.compute(RECORDED, y, np.array([0.1, 0.2, 0.3]), 0.5))
    assert metrics["precision"].value is None  # nothing predicted positive
    assert metrics["recall"].value == 0.0 and metrics["f1"].value == 0.0
    verdicts, skipped = perf.gates(
        list(metrics.values()), ["recall<-0.05", "precision<-0.05"], (), "batch"
    )
    assert [(v.rule, v.passed) for v in verdicts] == [("recall<-0.05", False)]
    assert list(skipped) == ["precision<-0.05"]


def test_gates_on_undefined_metrics_are_not_judged_and_the_others_are() -> None:
    metrics = perf.compute(RECORDED, np.array([0, 0, 0]), np.array([0.1, 0.2, 0.3]), 0.5)
    verdicts, skipped = perf.gates(metrics, ["f1<-0.05", "accuracy<-0.05"], (), "batch")
    assert [(v.rule, v.passed) for v in verdicts] == [("accuracy<-0.05", True)]
    assert skipped == {
        "f1<-0.05": "skip f1: undefined: neither the labels nor the predictions hold a "
        "positive on batch, so gate `f1<-0.05` is not judged"
    }


def test_a_metric_tether_cannot_compute_still_fails_its_gate() -> None:
    recorded = [("metrics.json", "mcc", 0.9)]
    metrics = perf.compute(recorded, np.array([0, 1]), np.array([0.1, 0.9]), 0.5)
    verdicts, skipped = perf.gates(metrics, ["mcc<-0.05"], (), "batch")
    assert [v.passed for v in verdicts] == [False] and skipped == {}


def _confident_negatives(example: Example, count: int):
    """The ``count`` test rows with label 0 that the released model scores lowest."""
    frame = split_of(example, "test")
    with (example.root / "models" / "model.pkl").open("rb") as fh:
        model = pickle.load(fh)  # the fixture's own model, built by the test session
    negatives = frame[frame["target"] == 0]
    scores = predict(model, negatives.drop(columns=["target"]))
    return negatives.iloc[np.argsort(scores)[:count]]


@pytest.mark.slow
def test_monitor_perf_on_three_right_negatives_passes_and_says_undefined(
    example: Example, tmp_path: Path
) -> None:
    batch = tmp_path / "negatives.csv"
    _confident_negatives(example, 3).to_csv(batch, index=False)
    proc = tether(example.root, "monitor", "perf", example.new, str(batch), "--fail-on", "f1<-0.05")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "skip f1: undefined: neither the labels nor the predictions hold a positive" in (
        proc.stdout
    )
    assert (
        "no gate judged on 3 rows; 1 gate(s) not judged: their metric is undefined on this batch"
        in proc.stdout
    )
    assert "0.0000" not in proc.stdout

    # Chunks: the first holds the 3 negatives, the second the whole test split.
    whole = split_of(example, "test")
    mixed = tmp_path / "mixed.csv"
    rows = _confident_negatives(example, 3)
    rows.assign(week="w1").to_csv(mixed, index=False)
    whole.assign(week="w2").to_csv(mixed, index=False, header=False, mode="a")
    proc = tether(
        example.root, "monitor", "perf", example.new, str(mixed), "--by", "week",
        "--fail-on", "f1<-0.05", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    first, second = report["chunks"]
    assert first["metrics"]["f1"] is None and first["skipped"] == ["f1<-0.05"]
    assert first["breached"] == [] and second["skipped"] == []
    assert second["metrics"]["f1"] > 0.9
    assert report["skipped_gates"] == []
