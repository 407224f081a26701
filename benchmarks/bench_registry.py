"""`tether show` against `gto show` on registries of 10, 100 and 550 tags.

Builds each registry once with `git fast-import` (commits and annotated tags in one
stream), checks that both tools print the same `show --json`, then times each
command line as a user runs it (a fresh process each time, median of several
runs) and prints the ratio.

    .venv/bin/python benchmarks/bench_registry.py            # 10, 100, 550 tags
    .venv/bin/python benchmarks/bench_registry.py 550 --runs 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import BIN, ENV, compile_tether

STAGES = ("dev", "staging", "prod")
T0 = 1_780_000_000


def build(root: Path, tags: int) -> None:
    """A repo with ``tags`` registry tags over 5 artifacts: half registrations (one
    commit each), half stage assignments, each tag a second after the last."""
    subprocess.run(["git", "init", "-q", str(root)], check=True, env=ENV)
    versions = tags // 2
    artifacts = [f"model-{i}" for i in range(5)] if tags >= 50 else ["model-0"]
    lines: list[str] = []
    registered: list[tuple[str, str, int]] = []  # (artifact, version, mark)
    clock = T0
    counters = dict.fromkeys(artifacts, 0)
    for i in range(versions):
        mark = i + 1
        clock += 1
        msg = f"commit {i}"
        lines += [
            "commit refs/heads/main",
            f"mark :{mark}",
            f"committer bench <bench@tether.invalid> {clock} +0000",
            f"data {len(msg)}",
            msg,
            *([f"from :{mark - 1}"] if mark > 1 else []),
            "M 644 inline file.txt",
            f"data {len(str(i))}",
            str(i),
        ]
        artifact = artifacts[i % len(artifacts)]
        version = f"v0.{i // len(artifacts)}.0"
        registered.append((artifact, version, mark))
        lines += _tag(f"{artifact}@{version}", mark, clock, f"Registering {artifact} {version}")
    for j in range(tags - versions):
        artifact, version, mark = registered[(j * 7) % len(registered)]
        counters[artifact] += 1
        clock += 1
        stage = STAGES[j % len(STAGES)]
        lines += _tag(
            f"{artifact}#{stage}#{counters[artifact]}", mark, clock, f"Assign {stage} to {version}"
        )
    stream = ("\n".join(lines) + "\n").encode()
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input=stream, check=True, env=ENV)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=root, check=True, env=ENV)


def _tag(name: str, mark: int, when: int, message: str) -> list[str]:
    return [
        f"tag {name}",
        f"from :{mark}",
        f"tagger bench <bench@tether.invalid> {when} +0000",
        f"data {len(message)}",
        message,
    ]


def timed(cmd: list[str], cwd: Path, runs: int) -> tuple[float, str]:
    samples = []
    out = ""
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=ENV)
        samples.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
        out = proc.stdout
    return statistics.median(samples), out


def timed_call(fn, runs: int) -> tuple[float, object]:
    fn()  # warm: imports and caches are not what is compared
    samples = []
    result = None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), result


def read_in_process(root: Path, runs: int) -> tuple[float, float, bool]:
    """Reading the registry inside one Python process: tether's API against GTO's."""
    import gto.api

    from tether.registry import state

    ours, our_data = timed_call(lambda: state.show_dict(state.load(root)), runs)
    theirs, their_data = timed_call(lambda: gto.api.show(str(root)), min(3, runs))
    return ours, theirs, json.loads(json.dumps(their_data, default=str)) == our_data


def main() -> None:
    compile_tether()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[10, 100, 550])
    parser.add_argument("--runs", type=int, default=5, help="runs of tether per size (gto: 3)")
    args = parser.parse_args()

    header = f"{'tags':>5}  {'what':<34}  {'tether':>8}  {'gto':>8}  {'ratio':>7}  same output"
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            root = Path(tmp) / f"r{size}"
            build(root, size)
            ours, our_json = timed([str(BIN / "tether"), "show", "--json"], root, args.runs)
            theirs, their_json = timed(
                [str(BIN / "gto"), "show", "--json"], root, min(3, args.runs)
            )
            row(size, "command line: show --json", ours, theirs, our_json == their_json)
            ours, theirs, same = read_in_process(root, args.runs)
            row(size, "read registry in-process (API)", ours, theirs, same)


def row(size: int, what: str, ours: float, theirs: float, same: bool) -> None:
    print(
        f"{size:>5}  {what:<34}  {ours:>7.3f}s  {theirs:>7.3f}s  {theirs / ours:>6.1f}x  {'yes' if same else 'NO'}",
        flush=True,
    )


if __name__ == "__main__":
    main()
