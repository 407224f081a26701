"""Data drift: tether's monitor against Evidently's DataDriftPreset, side by side.

Same synthetic data for both (25 numeric + 5 categorical columns, a few of them
shifted in the current batch) at 10k/10k, 100k/100k and 1M/100k rows (reference /
current). Evidently runs in its own virtual environment, made here on first use
under benchmarks/.cache/ (it needs pandas < 3; the project must not depend on it).

Each tool runs in a fresh process that reads the two CSV files, computes the drift
of every column and writes its HTML report; the time covers computing and writing
the report (not reading the CSVs, nor importing the libraries). Wall time and the
process's CPU time are both printed; the ratio is taken on CPU time, which a
machine shared with other work disturbs far less than wall time. tether runs twice: exact (on the reference rows,
what the scores are compared with) and from a release profile (the reference
summarised once, as `tether release` stores it; the profile build is timed apart).
Required: the same per-column verdicts and tests, scores equal to 1e-6 (exact).

    .venv/bin/python benchmarks/bench_monitor.py [--sizes 10000:10000,100000:100000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
EVIDENTLY_VENV = CACHE / "evidently"
EVIDENTLY = "evidently==0.7.23"
SIZES = [(10_000, 10_000), (100_000, 100_000), (1_000_000, 100_000)]
NUMERIC = [f"num_{i:02d}" for i in range(25)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]
TOLERANCE = 1e-6

# Evidently's display names of its tests -> tether's test names.
METHODS = {
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
}


def make_data(rows: int, seed: int, shifted: bool) -> pd.DataFrame:
    """25 numeric columns of several shapes and 5 categorical ones; ``shifted``
    moves 6 numeric and 2 categorical columns."""
    rng = np.random.default_rng(seed)
    data: dict[str, np.ndarray] = {}
    for i, name in enumerate(NUMERIC):
        shift = 0.3 * (i % 3 + 1) if shifted and i < 6 else 0.0
        if i % 5 == 0:
            values = rng.exponential(1.0 + i / 10, rows) + shift
        elif i % 5 == 1:
            values = rng.integers(0, 4, rows).astype(float) + (1 if shift else 0)  # few values
        else:
            values = rng.normal(i, 1 + i / 25, rows) + shift * (1 + i / 25)
        data[name] = np.round(values, 6)
    sizes = [2, 3, 5, 10, 20]
    for i, name in enumerate(CATEGORICAL):
        cats = np.array([f"c{j}" for j in range(sizes[i])])
        weights = np.linspace(1, 2, sizes[i])
        if shifted and i < 2:
            weights = weights[::-1] ** 2
        data[name] = rng.choice(cats, rows, p=weights / weights.sum())
    return pd.DataFrame(data)


def ensure_data(ref_rows: int, cur_rows: int) -> tuple[Path, Path]:
    folder = CACHE / "monitor" / f"{ref_rows}-{cur_rows}"
    ref, cur = folder / "reference.csv", folder / "current.csv"
    if not ref.is_file() or not cur.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        make_data(ref_rows, 1, False).to_csv(ref, index=False)
        make_data(cur_rows, 2, True).to_csv(cur, index=False)
    return ref, cur


def ensure_evidently() -> Path:
    python = EVIDENTLY_VENV / "bin" / "python"
    if (
        not python.exists()
        or subprocess.run([str(python), "-c", "import evidently"], capture_output=True).returncode
    ):
        print(f"making {EVIDENTLY_VENV} with {EVIDENTLY} (once)", flush=True)
        venv.create(EVIDENTLY_VENV, with_pip=True, clear=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", EVIDENTLY, "pandas<3"], check=True
        )
    return python


EVIDENTLY_SCRIPT = r"""
import json, resource, sys, time
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset
ref_path, cur_path, html_path, numeric, categorical = sys.argv[1:6]
numeric, categorical = numeric.split(","), categorical.split(",")
ref, cur = pd.read_csv(ref_path), pd.read_csv(cur_path)
definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
start, cpu = time.perf_counter(), time.process_time()
snapshot = Report([DataDriftPreset()]).run(
    Dataset.from_pandas(cur, data_definition=definition),
    Dataset.from_pandas(ref, data_definition=definition),
)
computed = time.perf_counter() - start
snapshot.save_html(html_path)
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
scores = {}
for metric in snapshot.dict()["metrics"]:
    config = metric["config"]
    if config.get("type", "").endswith("ValueDrift"):
        scores[config["column"]] = [config["method"], metric["value"], config["threshold"]]
print(json.dumps({"seconds": seconds, "cpu": cpu, "computed": computed, "scores": scores,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

TETHER_SCRIPT = r"""
import json, resource, sys, time
import pandas as pd
import scipy.spatial, scipy.stats  # imported before timing, as Evidently's import does
from tether.monitor import drift, profile, render
from tether.monitor.config import MonitorConfig
ref_path, cur_path, html_path, categorical, mode = sys.argv[1:6]
categorical = frozenset(categorical.split(","))
ref, cur = pd.read_csv(ref_path), pd.read_csv(cur_path)
config = MonitorConfig()
build_seconds = 0.0
if mode == "profile":
    # What `tether release` stores, read back as `tether monitor drift` reads it.
    start = time.perf_counter()
    stored = profile.build(ref, None, categorical).to_bytes()
    build_seconds = time.perf_counter() - start
    del ref
    start, cpu = time.perf_counter(), time.process_time()
    reference = profile.Profile.from_bytes(stored, "profile")
    exact = False
else:
    start, cpu = time.perf_counter(), time.process_time()
    reference = profile.build(ref, None, categorical, summarise=False)
    exact = True
report = drift.compare(reference, cur, config, exact=exact)
computed = time.perf_counter() - start
with open(html_path, "w", encoding="utf-8") as fh:
    fh.write(render.drift_html(report))
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
scores = {c.column: [c.test, c.score, c.threshold, c.drifted] for c in report.columns}
print(json.dumps({"seconds": seconds, "cpu": cpu, "computed": computed, "scores": scores,
                  "build_seconds": build_seconds, "profile_kb": len(stored) / 1024 if mode == "profile" else 0,
                  "dataset_drift": report.dataset_drift, "share": report.share,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_json(args: list[str]) -> dict:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(args, capture_output=True, text=True, env=env)
    if proc.returncode:
        raise SystemExit(f"{args[0]} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def evidently_drifted(method: str, score: float, threshold: float) -> bool:
    test = METHODS[method]
    if test == "ks":
        return score <= threshold
    if test in ("chisquare", "z"):
        return score < threshold
    return score >= threshold


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default=",".join(f"{r}:{c}" for r, c in SIZES))
    args = parser.parse_args()
    sizes = [tuple(int(n) for n in s.split(":")) for s in args.sizes.split(",")]
    evidently = ensure_evidently()
    out = CACHE / "monitor"
    failures = 0
    print(
        f"{'size (ref/cur)':>16} {'tool':<20} {'wall s':>7} {'CPU s':>7} {'ratio':>7} "
        f"{'report KB':>9} {'peak MB':>8}"
    )
    for ref_rows, cur_rows in sizes:
        ref, cur = ensure_data(ref_rows, cur_rows)
        label = f"{ref_rows // 1000}k/{cur_rows // 1000}k"
        ev_html = out / f"evidently-{ref_rows}.html"
        ev = run_json(
            [str(evidently), "-c", EVIDENTLY_SCRIPT, str(ref), str(cur), str(ev_html),
             ",".join(NUMERIC), ",".join(CATEGORICAL)]
        )  # fmt: skip
        results = {}
        for mode in ("exact", "profile"):
            html = out / f"tether-{mode}-{ref_rows}.html"
            results[mode] = run_json(
                [sys.executable, "-c", TETHER_SCRIPT, str(ref), str(cur), str(html),
                 ",".join(CATEGORICAL), mode]
            )  # fmt: skip
            results[mode]["html_kb"] = html.stat().st_size / 1024
        ev_kb = ev_html.stat().st_size / 1024
        name = "evidently " + EVIDENTLY.split("==")[1]
        print(
            f"{label:>16} {name:<20} {ev['seconds']:7.2f} {ev['cpu']:7.2f} {'':>7} "
            f"{ev_kb:9.0f} {ev['peak_mb']:8.0f}"
        )
        for mode, res in results.items():
            ratio = ev["cpu"] / res["cpu"]
            print(
                f"{'':>16} {'tether ' + mode:<20} {res['seconds']:7.2f} {res['cpu']:7.2f} "
                f"{ratio:6.1f}x {res['html_kb']:9.0f} {res['peak_mb']:8.0f}"
            )
        prof = results["profile"]
        print(
            f"{'':>16} profile: built in {prof['build_seconds']:.2f} s, {prof['profile_kb']:.0f} KB"
        )

        # Verdicts and scores against Evidently's.
        worst = 0.0
        worst_profile = 0.0
        mismatches = []
        for column, (method, score, threshold) in sorted(ev["scores"].items()):
            test, value, _, drifted = results["exact"]["scores"][column]
            if METHODS[method] != test:
                mismatches.append(f"{column}: test {test} vs {method}")
                continue
            if drifted != evidently_drifted(method, score, threshold):
                mismatches.append(f"{column}: verdict {drifted} vs {not drifted}")
            worst = max(worst, abs(value - score))
            _, p_value, _, p_drifted = results["profile"]["scores"][column]
            worst_profile = max(worst_profile, abs(p_value - score))
            if p_drifted != drifted:
                mismatches.append(f"{column}: profile verdict {p_drifted} vs exact {drifted}")
        drifted = sum(1 for s in results["exact"]["scores"].values() if s[3])
        print(
            f"{'':>16} {len(ev['scores'])} columns, {drifted} drifted; same tests and verdicts: "
            f"{'yes' if not mismatches else 'NO'}; largest score difference exact {worst:.1e}, "
            f"profile {worst_profile:.1e}"
        )
        for line in mismatches:
            print(f"{'':>16}   {line}")
        if mismatches or worst > TOLERANCE:
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
