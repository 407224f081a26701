"""Benchmark: the same 8-trial grid on the example pipeline, three ways, in one run.

  dvc exp run --queue -S ... ; dvc queue start -j 2   DVC's experiment queue, waited
                                                      on until all 8 have finished
  tether tune ... --jobs 2                            trials in worktrees, 2 at once
  tether tune ... --jobs 1                            the same, one at a time
  bare stage commands, serially                       train + evaluate for each point
                                                      (params.yaml written untimed)

and `tether tune show` on a study of 100 trials. Prints the times and the ratios
against the goals: tether (--jobs 2) <= half of DVC's wall time; tether's overhead
per trial over the bare commands <= 1 s (from --jobs 1, where nothing overlaps);
`tune show` on 100 trials < 0.5 s. Rerun with:

    .venv/bin/python benchmarks/bench_tune.py
"""

from __future__ import annotations

import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import BIN, ENV, compile_tether, copy_template

C_VALUES = ["0.2", "0.4", "0.6", "0.8"]
WEIGHTS = ["null", "balanced"]
SWEEP = ["model.params.C=" + ",".join(C_VALUES), "model.params.class_weight=" + ",".join(WEIGHTS)]
TRIALS = len(C_VALUES) * len(WEIGHTS)
ENVIRON = {**ENV, "PATH": f"{BIN}:{ENV.get('PATH', '')}"}


def run(*args: str | Path, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=ENVIRON, text=True, capture_output=True
    )
    if check and proc.returncode != 0:
        sys.exit(f"{' '.join(map(str, args))} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def project(base: Path, name: str) -> Path:
    """A committed, reproduced copy of the example project."""
    root = base / name
    root.mkdir()
    copy_template(root)
    run("git", "init", "-q", cwd=root)
    run("git", "add", "-A", cwd=root)
    run("git", "commit", "-qm", "template", cwd=root)
    run(BIN / "tether", "run", cwd=root)
    run("git", "add", "-A", cwd=root)
    run("git", "commit", "-qm", "reproduce", cwd=root)
    return root


def dvc_queue(root: Path) -> float:
    started = time.perf_counter()
    run(BIN / "dvc", "exp", "run", "--queue", *(a for s in SWEEP for a in ("-S", s)), cwd=root)
    # The workers `dvc queue start` leaves behind would hold a captured pipe open
    # (and run() would wait for them): their output goes nowhere.
    subprocess.run(
        [str(BIN / "dvc"), "queue", "start", "-j", "2"],
        cwd=root,
        env=ENVIRON,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    deadline = time.monotonic() + 1800
    while True:
        status = run(BIN / "dvc", "queue", "status", cwd=root, check=False).stdout
        lines = [line for line in status.splitlines()[1:] if line.strip()]
        finished = [line for line in lines if "Success" in line or "Failed" in line]
        if len(finished) >= TRIALS:
            break
        if time.monotonic() > deadline:
            sys.exit(f"dvc queue did not finish in 30 minutes:\n{status}")
        time.sleep(0.5)
    seconds = time.perf_counter() - started
    failed = [line for line in lines if "Failed" in line]
    if failed:
        sys.exit("dvc queue: failed experiments:\n" + "\n".join(failed))
    run(BIN / "dvc", "queue", "stop", "--kill", cwd=root, check=False)
    return seconds


def tether_tune(root: Path, jobs: int) -> float:
    started = time.perf_counter()
    proc = run(BIN / "tether", "tune", *SWEEP, "--metric", "f1", "--jobs", str(jobs), cwd=root)
    seconds = time.perf_counter() - started
    if f"{TRIALS} trial(s) ran, 0 failed" not in proc.stdout:
        sys.exit(f"tether tune did not run {TRIALS} trials:\n{proc.stdout}\n{proc.stderr}")
    return seconds


def bare(root: Path) -> float:
    """train + evaluate for each point, serially; params.yaml composed beforehand."""
    from tether.pipeline.compose import compose

    compositions = [
        compose(root, [f"model.params.C={c}", f"model.params.class_weight={w}"])
        for c in C_VALUES
        for w in WEIGHTS
    ]
    total = 0.0
    for composition in compositions:
        (root / "params.yaml").write_bytes(composition.content)
        started = time.perf_counter()
        for stage in ("train", "evaluate"):
            subprocess.run(
                [sys.executable, "-m", f"tabular_classifier.{stage}"],
                cwd=root,
                env={**ENVIRON, "PYTHONPATH": "src"},
                check=True,
                capture_output=True,
            )
        total += time.perf_counter() - started
    return total


def show_100(base: Path) -> tuple[float, float]:
    """`tether tune show` on a study of 100 finished trials: median wall and CPU
    time of 5 runs (on a shared machine the CPU time is the steadier figure)."""
    import optuna

    from tether.tune.board import DB_FILE, storage_url

    root = base / "show"
    root.mkdir()
    run("git", "init", "-q", cwd=root)
    (root / DB_FILE).parent.mkdir()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name="hundred", storage=storage_url(root, None), direction="maximize"
    )
    study.set_user_attr(
        "tether",
        {"sweep": ["model.params.C=interval(0.01,10)"], "sampler": "random", "metric": "f1",
         "minimize": False, "seed": 0, "baseline": "0" * 40, "trials": 100},
    )  # fmt: skip
    dist = {"model.params.C": optuna.distributions.FloatDistribution(0.01, 10)}
    for number in range(100):
        trial = study.ask(dist)
        c = trial.params["model.params.C"]
        trial.set_user_attr("overrides", [f"model.params.C={c}"])
        trial.set_user_attr("experiment", f"hundred-{number}")
        trial.set_user_attr("metrics", {"f1": 0.9 + c / 1000, "accuracy": 0.95, "roc_auc": 0.99})
        trial.set_user_attr("seconds", 3.2)
        study.tell(trial, 0.9 + c / 1000)
    times, cpu = [], []
    for _ in range(5):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        proc = run(BIN / "tether", "tune", "show", cwd=root)
        times.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        assert "hundred-99" in proc.stdout
    return statistics.median(times), statistics.median(cpu)


def main() -> int:
    compile_tether()
    base = Path(tempfile.mkdtemp(prefix="bench-tune-"))
    try:
        show, show_cpu = show_100(base)
        print(
            f"tether tune show, 100 trials (median of 5): {show:.3f} s wall, "
            f"{show_cpu:.3f} s CPU  (goal < 0.5 s)"
        )
        roots = {name: project(base, name) for name in ("dvc", "tether2", "tether1", "bare")}
        figures = {
            "dvc": dvc_queue(roots["dvc"]),
            "tether2": tether_tune(roots["tether2"], 2),
            "tether1": tether_tune(roots["tether1"], 1),
            "bare": bare(roots["bare"]),
        }
        print(f"{TRIALS}-trial grid on the example pipeline ({' '.join(SWEEP)})")
        print(f"  dvc exp run --queue + dvc queue start -j 2   {figures['dvc']:7.1f} s")
        print(f"  tether tune --jobs 2                         {figures['tether2']:7.1f} s")
        print(f"  tether tune --jobs 1                         {figures['tether1']:7.1f} s")
        print(f"  bare train + evaluate, serially              {figures['bare']:7.1f} s")
        ratio = figures["tether2"] / figures["dvc"]
        overhead = (figures["tether1"] - figures["bare"]) / TRIALS
        print(f"  tether --jobs 2 / dvc queue = {ratio:.2f}  (goal <= 0.50)")
        print(f"  tether overhead per trial over bare (--jobs 1) = {overhead:.2f} s  (goal <= 1 s)")
        print(
            json.dumps(
                {k: round(v, 2) for k, v in figures.items()}
                | {"show_100": round(show, 3), "show_100_cpu": round(show_cpu, 3)}
            )
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
