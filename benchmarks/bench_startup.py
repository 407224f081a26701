"""Startup cost: `tether --help` against `dvc --help`, side by side in one run.

tether keeps DVC, scikit-learn and pandas out of its import path until a command
needs them, so asking for help should cost a fraction of DVC's own startup.

    python benchmarks/bench_startup.py [--repeat N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

from common import BIN, compile_tether


def timed(cmd: list[str], repeat: int) -> list[float]:
    subprocess.run(cmd, capture_output=True, check=True)  # warm the page cache
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    compile_tether()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    tether = shutil.which("tether", path=str(BIN)) or "tether"
    dvc = shutil.which("dvc", path=str(BIN)) or "dvc"
    python = [sys.executable, "-c", "pass"]
    rows = {
        "python -c pass (floor)": timed(python, args.repeat),
        "tether --help": timed([tether, "--help"], args.repeat),
        "dvc --help": timed([dvc, "--help"], args.repeat),
    }
    print(f"startup, median of {args.repeat} runs")
    for name, samples in rows.items():
        print(f"  {name:<24} {statistics.median(samples) * 1000:8.1f} ms")
    ratio = statistics.median(rows["dvc --help"]) / statistics.median(rows["tether --help"])
    print(f"  dvc --help / tether --help = {ratio:.1f}x")


if __name__ == "__main__":
    main()
