"""Stage prepare: a deterministic stratified train/test split."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

INPUT = Path("data/raw/dataset.csv")
TRAIN = Path("data/prepared/train.csv")
TEST = Path("data/prepared/test.csv")


def split(
    frame: pd.DataFrame, target: str, test_size: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``frame`` into train and test, stratified on ``target``."""
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"prepare.test_size must be between 0 and 1, got {test_size}")
    train, test = train_test_split(
        frame, test_size=test_size, random_state=seed, stratify=frame[target]
    )
    return train.sort_index(), test.sort_index()


def main() -> None:
    from tabular_classifier.params import load_params

    params = load_params("dataset", "prepare")
    frame = pd.read_csv(INPUT)
    train, test = split(
        frame,
        target=params["dataset"]["target"],
        test_size=float(params["prepare"]["test_size"]),
        seed=int(params["prepare"]["seed"]),
    )
    TRAIN.parent.mkdir(parents=True, exist_ok=True)
    train.to_csv(TRAIN, index=False, lineterminator="\n")
    test.to_csv(TEST, index=False, lineterminator="\n")
    print(f"prepare: {len(train)} train rows, {len(test)} test rows", file=sys.stderr)


if __name__ == "__main__":
    main()
