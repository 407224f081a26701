"""Stage evaluate: score the model on the test split; write metrics and plot data."""

from __future__ import annotations

import json
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn import metrics as skm

TEST = Path("data/prepared/test.csv")
MODEL = Path("models/model.pkl")
METRICS = Path("reports/metrics.json")
PLOTS = Path("reports/plots")


@dataclass(frozen=True)
class Evaluation:
    metrics: dict[str, float]
    roc: pd.DataFrame
    precision_recall: pd.DataFrame
    confusion: pd.DataFrame


def evaluate(model: Any, test: pd.DataFrame, target: str, threshold: float) -> Evaluation:
    """Score ``model`` on ``test``: the metrics and the data behind the three plots."""
    y_true = test[target].to_numpy()
    scores = model.predict_proba(test.drop(columns=[target]))[:, 1]
    y_pred = (scores >= threshold).astype(int)
    metrics = {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "precision": skm.precision_score(y_true, y_pred, zero_division=0),
        "recall": skm.recall_score(y_true, y_pred, zero_division=0),
        "f1": skm.f1_score(y_true, y_pred, zero_division=0),
        "roc_auc": skm.roc_auc_score(y_true, scores),
    }
    fpr, tpr, _ = skm.roc_curve(y_true, scores)
    precision, recall, _ = skm.precision_recall_curve(y_true, scores)
    return Evaluation(
        metrics={k: float(v) for k, v in metrics.items()},
        roc=pd.DataFrame({"fpr": fpr, "tpr": tpr}),
        precision_recall=pd.DataFrame({"recall": recall, "precision": precision}),
        confusion=pd.DataFrame({"actual": y_true, "predicted": y_pred}),
    )


def main() -> None:
    from tabular_classifier.params import load_params, pin_threads

    pin_threads()
    params = load_params("dataset", "evaluate")
    model = pickle.loads(MODEL.read_bytes())
    result = evaluate(
        model,
        pd.read_csv(TEST),
        target=params["dataset"]["target"],
        threshold=float(params["evaluate"]["threshold"]),
    )
    METRICS.parent.mkdir(parents=True, exist_ok=True)
    PLOTS.mkdir(parents=True, exist_ok=True)
    METRICS.write_text(
        json.dumps(result.metrics, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    for name in ("roc", "precision_recall", "confusion"):
        getattr(result, name).to_csv(PLOTS / f"{name}.csv", index=False, lineterminator="\n")
    print(
        "evaluate: " + ", ".join(f"{k}={v:.4f}" for k, v in result.metrics.items()), file=sys.stderr
    )


if __name__ == "__main__":
    main()
