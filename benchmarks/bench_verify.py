"""Benchmark: `tether verify REF --from-remote` against `dvc repro -f`, side by side.

Builds a fresh copy of the example project (git history, a local DVC remote with
the outputs pushed), then, in one run, alternates:

  tether verify HEAD --from-remote --keep   worktree, transfer from the remote,
                                            every stage forced, hashing, report
  dvc repro -f                              in that same kept worktree: the
                                            pipeline's own run time

and prints each time, the ratio and the overhead against the target
(verify <= repro * 1.10 + 2 s). Rerun with:

    .venv/bin/python benchmarks/bench_verify.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import BIN, compile_tether, isolated_env, reproduced_project, run


def timed(
    *args: str | Path, cwd: Path, env: dict[str, str]
) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    proc = run(*args, cwd=cwd, env=env)
    return time.perf_counter() - started, proc


def build(base: Path, env: dict[str, str]) -> Path:
    root = reproduced_project(base, env)
    run(BIN / "dvc", "push", "-q", cwd=root, env=env)
    return root


def main() -> None:
    compile_tether()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds (default 2)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
        base = Path(tmp)
        env = isolated_env(base)
        root = build(base, env)

        verify_times, repro_times, transfer = [], [], 0
        for _ in range(args.rounds):
            seconds, proc = timed(
                BIN / "tether",
                "verify",
                "HEAD",
                "--from-remote",
                "--keep",
                "--json",
                cwd=root,
                env=env,
            )
            report = json.loads(proc.stdout)
            assert report["ok"], report
            transfer = report["objects_fetched"]
            verify_times.append(seconds)
            kept = Path(report["kept_worktree"])
            seconds, _ = timed(BIN / "dvc", "repro", "-f", "-q", cwd=kept, env=env)
            repro_times.append(seconds)
            run("git", "worktree", "remove", "--force", kept, cwd=root, env=env)
            shutil.rmtree(kept.parent, ignore_errors=True)

    verify_s = statistics.median(verify_times)
    repro_s = statistics.median(repro_times)
    budget = repro_s * 1.10 + 2.0
    print(f"example pipeline, {args.rounds} round(s), median wall time (s)")
    print(
        f"  tether verify --from-remote : {verify_s:6.2f}  ({', '.join(f'{t:.2f}' for t in verify_times)}; {transfer} objects fetched)"
    )
    print(
        f"  dvc repro -f (same worktree): {repro_s:6.2f}  ({', '.join(f'{t:.2f}' for t in repro_times)})"
    )
    print(f"  ratio verify / repro        : {verify_s / repro_s:6.2f}x")
    print(f"  overhead verify - repro     : {verify_s - repro_s:+6.2f} s")
    print(
        f"  target repro*1.10 + 2 s     : {budget:6.2f}  -> {'met' if verify_s <= budget else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
