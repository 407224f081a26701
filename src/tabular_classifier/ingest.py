"""Stage ingest: bring the raw table into data/raw as CSV.

The default source is scikit-learn's bundled breast-cancer diagnosis data set, so a
fresh clone runs with no network. Point ``dataset.source`` at a CSV file to use
your own table instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

BUNDLED = {
    "sklearn:breast_cancer": "load_breast_cancer",
    "sklearn:wine": "load_wine",
    "sklearn:iris": "load_iris",
}
OUTPUT = Path("data/raw/dataset.csv")


def load_table(source: str, target: str) -> pd.DataFrame:
    """Load the raw table named by ``source``; the label column is renamed ``target``."""
    if source in BUNDLED:
        from sklearn import datasets

        loader = getattr(datasets, BUNDLED[source])
        frame = loader(as_frame=True).frame
        return frame.rename(columns={"target": target})
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(
            f"dataset.source {source!r} is neither a bundled data set "
            f"({', '.join(sorted(BUNDLED))}) nor an existing CSV file"
        )
    frame = pd.read_csv(path)
    if target not in frame.columns:
        raise KeyError(f"{source} has no column {target!r} (dataset.target)")
    return frame


def main() -> None:
    from tabular_classifier.params import load_params

    dataset = load_params("dataset")["dataset"]
    frame = load_table(dataset["source"], dataset["target"])
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(OUTPUT, index=False, lineterminator="\n")
    print(f"ingest: {len(frame)} rows, {frame.shape[1]} columns -> {OUTPUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
