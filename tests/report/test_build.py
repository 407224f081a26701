"""Which metrics the history charts show: ``build._series`` on hand-made snapshots."""

from __future__ import annotations

from types import SimpleNamespace

from tether.report.build import CHARTED_MAX, _series

M = "reports/metrics.json"


def _snap(**values: float) -> SimpleNamespace:
    return SimpleNamespace(metrics={M: values})


BEFORE = _snap(accuracy=0.9, f1=0.8, precision=0.7, recall=0.6, roc_auc=0.95)
HEAD = _snap(accuracy=0.9, f1=0.8, precision=0.7, recall=0.6, roc_auc=0.5, note=1)


def test_changed_metrics_are_charted_first_and_the_rest_named():
    assert CHARTED_MAX == 4
    charted, left_out = _series(["v1"], [BEFORE], HEAD, gated=[], changed={(M, "roc_auc")})
    assert [name for name, _, _ in charted] == ["roc_auc", "accuracy", "f1", "note"]
    assert charted[0] == ("roc_auc", ["v1", "PR"], [0.95, 0.5])
    assert left_out == ["precision", "recall"]


def test_gated_metrics_come_first_and_are_all_charted():
    gated = ["recall", f"{M}:precision", "f1", "note", "accuracy"]
    charted, left_out = _series(["v1"], [BEFORE], HEAD, gated=gated, changed={(M, "roc_auc")})
    assert [name for name, _, _ in charted] == ["accuracy", "f1", "note", "precision", "recall"]
    assert left_out == ["roc_auc"]
    few, left_out = _series(["v1"], [BEFORE], HEAD, gated=["recall"], changed={(M, "roc_auc")})
    assert [name for name, _, _ in few] == ["recall", "roc_auc", "accuracy", "f1"]
    assert left_out == ["note", "precision"]
