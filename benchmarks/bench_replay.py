"""Benchmark: replaying a release's environment with uv, against pip installing the
same set, and `tether verify --env` against a plain `tether verify`.

Releases a fresh copy of the example project (its lock records this .venv: every
distribution, hashed from the wheelhouse `make setup` downloads), then measures:

  uv replay, cold     an empty uv cache and no replayed environment: uv unpacks
                      every wheel (tether.replay.envs.ensure)
  uv replay, warm     uv's cache warm, no replayed environment: what a second
                      release with another lock costs
  cached              the replayed environment exists: what `--env` pays each time
  pip, same set       python -m venv, then pip install --no-deps --require-hashes
                      of the same lock from the same wheelhouse
  verify --env        in the cached environment, alternating with a plain verify,
                      against the target plain * 1.10 + 2 s

Everything comes from .wheelhouse (no network). Rerun with:

    .venv/bin/python benchmarks/bench_replay.py [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import BIN, PROJECT, compile_tether, isolated_env, reproduced_project, run
from tether.replay import envs, install, lock

WHEELHOUSE = PROJECT / ".wheelhouse"
REF = "cancer-classifier@v0.1.0"


def timed(*args: str | Path, cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    run(*args, cwd=cwd, env=env)
    return time.perf_counter() - started


def build(base: Path, env: dict[str, str]) -> Path:
    root = reproduced_project(base, env)
    run(BIN / "tether", "release", "cancer-classifier", cwd=root, env=env)
    return root


def replay_once(recorded: lock.Lock, index: install.IndexOptions) -> envs.ReplayedEnv:
    return envs.ensure(recorded, index=index)


def main() -> None:
    compile_tether()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=2, help="verify rounds (default 2)")
    parser.add_argument("--skip-pip", action="store_true", help="leave out pip's install")
    args = parser.parse_args()
    if not (WHEELHOUSE / ".complete").is_file():
        sys.exit(f"{WHEELHOUSE} is missing: run `make setup` first")

    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        base = Path(tmp)
        env = {
            **isolated_env(base),
            "UV_FIND_LINKS": str(WHEELHOUSE),
            "UV_NO_INDEX": "1",
            "UV_CACHE_DIR": str(base / "uv-cache"),
            "TETHER_ENV_CACHE": str(base / "envs"),
            "PIP_CACHE_DIR": str(base / "pip-cache"),
        }
        root = build(base, env)
        os.environ.update(env)
        recorded = lock.record()
        count = len(recorded.installable)
        index = install.IndexOptions((str(WHEELHOUSE),), None, True)

        print(f"environment replay: {count} distributions from the example's release lock")
        started = time.perf_counter()
        replay_once(recorded, index)
        cold = time.perf_counter() - started
        print(f"  uv, cold (empty uv cache)        : {cold:7.2f} s", flush=True)
        envs.prune()
        started = time.perf_counter()
        replay_once(recorded, index)
        warm = time.perf_counter() - started
        goal = "met" if warm < 10 else "NOT met"
        print(f"  uv, warm (uv cache warm)         : {warm:7.2f} s   goal < 10 s -> {goal}")
        started = time.perf_counter()
        hit = replay_once(recorded, index)
        cached = time.perf_counter() - started
        assert hit.reused
        print(f"  cached environment (lock hit)    : {cached:7.2f} s", flush=True)

        if not args.skip_pip:
            requirements = base / "lock.txt"
            requirements.write_text(recorded.requirements(), encoding="utf-8")
            pip_env = base / "pip-venv"
            started = time.perf_counter()
            run(sys.executable, "-m", "venv", "--without-pip", pip_env, cwd=base, env=env)
            run(
                sys.executable, "-m", "pip", "--python", pip_env / "bin" / "python", "install",
                "--quiet", "--no-deps", "--require-hashes", "--no-index",
                "--find-links", WHEELHOUSE, "-r", requirements,
                cwd=base, env=env,
            )  # fmt: skip
            pip_s = time.perf_counter() - started
            print(f"  pip, same set (venv + install)   : {pip_s:7.2f} s")
            print(f"  pip / uv warm                    : {pip_s / warm:7.1f}x", flush=True)

        replay = ("--env", "--find-links", WHEELHOUSE, "--no-index")
        # The first verify in a new environment also writes the bytecode of what the
        # stages import (uv installs without compiling); timed apart.
        first = timed(BIN / "tether", "verify", REF, *replay, cwd=root, env=env)
        print(f"  first verify --env in it         : {first:7.2f} s (writes bytecode)", flush=True)
        plain_times, env_times = [], []
        for _ in range(args.rounds):
            plain_times.append(timed(BIN / "tether", "verify", REF, cwd=root, env=env))
            env_times.append(timed(BIN / "tether", "verify", REF, *replay, cwd=root, env=env))

    plain = statistics.median(plain_times)
    replayed = statistics.median(env_times)
    budget = plain * 1.10 + 2.0
    print(f"verify, {args.rounds} round(s), median wall time (s)")
    print(
        f"  tether verify REF                : {plain:7.2f}  ({', '.join(f'{t:.2f}' for t in plain_times)})"
    )
    print(
        f"  tether verify REF --env (cached) : {replayed:7.2f}  ({', '.join(f'{t:.2f}' for t in env_times)})"
    )
    print(f"  overhead --env - plain           : {replayed - plain:+7.2f} s")
    print(
        f"  target plain*1.10 + 2 s          : {budget:7.2f}  -> {'met' if replayed <= budget else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
