"""Benchmark: `tether diff` and `tether history` against DVC, side by side.

Builds synthetic repositories with N tagged commits (N = 10, 100, 500), each a copy
of the example project (its four-stage dvc.yaml, params.yaml and stage code) with its
own params and metrics, in two variants: metrics committed to git (`cache: false`, as
in the example) and metrics stored in the DVC cache (recorded by md5 in dvc.lock). Then, in one run, measures

* `tether diff FIRST LAST --json` against `dvc metrics diff` + `dvc params diff`;
* `tether history --json` over every tag against `dvc metrics show -T --json`, and
  against a bare Python loop over one `git cat-file --batch` process that reads the
  same blobs (the metrics file at each tag, or dvc.lock + the cache file);
* the peak RSS of `tether history`.

Every command runs as a fresh process, the way a user or CI runs it; the best of
`--repeat` runs is kept for every command, except `dvc metrics show -T` over 100 or
more tags, which runs once.

    python benchmarks/bench_metrics.py            # sizes 10, 100, 500
    python benchmarks/bench_metrics.py --quick    # sizes 10, 100; one run each
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from common import BIN, ENV, compile_tether

PROJECT = Path(__file__).resolve().parents[1]
METRICS = "reports/metrics.json"


# The baseline a user could write by hand: one `git cat-file --batch` process, the
# same blobs `tether history` reads for its default columns (every metric), parsed
# with the same parsers (json, PyYAML's C loader).
BARE_LOOP = textwrap.dedent(
    """\
    import json, subprocess, sys, yaml
    cached = sys.argv[1] == "cached"
    Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    tags = subprocess.run(["git", "tag"], capture_output=True, text=True, check=True).stdout.split()
    proc = subprocess.Popen(["git", "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    def blob(ref):
        proc.stdin.write(ref.encode() + b"\\n"); proc.stdin.flush()
        header = proc.stdout.readline().split()
        if header[1] == b"missing":
            return None
        data = proc.stdout.read(int(header[2])); proc.stdout.read(1)
        return data
    rows = []
    for tag in tags:
        if cached:
            lock = yaml.load(blob(f"{tag}:dvc.lock"), Loader=Loader)
            md5 = lock["stages"]["evaluate"]["outs"][0]["md5"]
            with open(f".dvc/cache/files/md5/{md5[:2]}/{md5[2:]}", "rb") as fh:
                metrics = json.loads(fh.read())
        else:
            metrics = json.loads(blob(f"{tag}:reports/metrics.json"))
        rows.append((tag, metrics))
    proc.stdin.close(); proc.wait()
    print(len(rows))
    """
)


def run(args: list[str], cwd: Path, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True, check=True, **kw)


def build(root: Path, n: int, cached: bool) -> None:
    """A copy of the example project (its dvc.yaml with four stages, params.yaml,
    stage code) whose commit i (tag v1.0.i) has its own params and metrics, written
    with one `git fast-import` stream. In the cached variant the metrics output is
    cached, its bytes put in .dvc/cache and its md5 in dvc.lock, as `dvc repro` does."""
    root.mkdir(parents=True)
    run(["git", "init", "-q", "-b", "main"], root)
    run([str(BIN / "dvc"), "init", "-q"], root)
    run(["git", "commit", "-q", "-m", "init"], root)
    cache = root / ".dvc" / "cache" / "files" / "md5"
    pipeline = (PROJECT / "dvc.yaml").read_text(encoding="utf-8")
    if cached:
        pipeline = pipeline.replace(
            f"      - {METRICS}:\n          cache: false\n", f"      - {METRICS}\n"
        )
        assert f"- {METRICS}\n" in pipeline, "dvc.yaml layout changed; update the benchmark"
    params_text = (PROJECT / "params.yaml").read_text(encoding="utf-8")
    assert "    C: 1.0\n" in params_text, "params.yaml layout changed; update the benchmark"
    stream: list[bytes] = []

    def data(payload: bytes) -> None:
        stream.append(b"data %d\n" % len(payload) + payload + b"\n")

    def file(path: str, payload: bytes) -> None:
        stream.append(f"M 100644 inline {path}\n".encode())
        data(payload)

    base = 1_700_000_000
    metrics = b""
    for i in range(1, n + 1):
        params = params_text.replace("    C: 1.0\n", f"    C: {0.01 * i:.6g}\n").encode()
        values = {
            "accuracy": round(0.9 + i / (20 * n), 6),
            "f1": round(0.88 + i / (20 * n), 6),
            "precision": 0.95,
            "recall": round(0.9 - i / (40 * n), 6),
            "roc_auc": round(0.97 + i / (50 * n), 6),
        }
        metrics = json.dumps(values, indent=2).encode()
        stream.append(b"commit refs/heads/main\n")
        stream.append(
            f"mark :{i}\ncommitter bench <bench@example.invalid> {base + i * 60} +0000\n".encode()
        )
        data(f"release {i}".encode())
        stream.append(b"from refs/heads/main^0\n" if i == 1 else f"from :{i - 1}\n".encode())
        file("params.yaml", params)
        if i == 1:
            file("dvc.yaml", pipeline.encode())
            for source in sorted((PROJECT / "src" / "tabular_classifier").glob("*.py")):
                file(f"src/tabular_classifier/{source.name}", source.read_bytes())
            file(
                ".gitignore", b"/data/\n/models/\n" + (f"/{METRICS}\n".encode() if cached else b"")
            )
        if cached:
            md5 = hashlib.md5(metrics, usedforsecurity=False).hexdigest()
            (cache / md5[:2]).mkdir(parents=True, exist_ok=True)
            (cache / md5[:2] / md5[2:]).write_bytes(metrics)
            lock = (
                "schema: '2.0'\nstages:\n  evaluate:\n"
                "    cmd: PYTHONPATH=src python -m tabular_classifier.evaluate\n"
                f"    outs:\n    - path: {METRICS}\n      hash: md5\n      md5: {md5}\n"
                f"      size: {len(metrics)}\n"
            )
            file("dvc.lock", lock.encode())
        else:
            file(METRICS, metrics)
        stream.append(f"reset refs/tags/v1.0.{i}\nfrom :{i}\n\n".encode())
    subprocess.run(
        ["git", "fast-import", "--quiet"], cwd=root, env=ENV, input=b"".join(stream), check=True
    )
    run(["git", "reset", "-q", "--hard", "main"], root)
    if cached:
        (root / METRICS).parent.mkdir(parents=True, exist_ok=True)
        (root / METRICS).write_bytes(metrics)


def timed(args: list[str], cwd: Path, repeat: int) -> tuple[float, int]:
    """Best wall time of ``repeat`` runs, and the peak RSS (KiB) of the process."""
    best, peak = float("inf"), 0
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.Popen(
            args, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(
                f"{' '.join(args)} failed: {proc.stderr.read().decode() if proc.stderr else ''}"
            )
        best, peak = min(best, elapsed), max(peak, usage.ru_maxrss)
    return best, peak


def main() -> None:
    compile_tether()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="sizes 10 and 100, one run each")
    parser.add_argument("--sizes", type=int, nargs="*", help="override the sizes")
    parser.add_argument(
        "--repeat", type=int, default=None, help="runs per tether measurement (default 3)"
    )
    args = parser.parse_args()
    sizes = args.sizes or ([10, 100] if args.quick else [10, 100, 500])
    repeat = args.repeat or (1 if args.quick else 3)
    tether, dvc = str(BIN / "tether"), str(BIN / "dvc")

    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, best of {repeat} (dvc show -T at 100+ tags: 1 run)"
    )
    header = (
        f"{'variant':8} {'tags':>5} | {'tether diff':>11} {'dvc diff':>9} {'ratio':>6} | "
        f"{'tether hist':>11} {'dvc show -T':>11} {'ratio':>6} | {'bare loop':>9} {'t/bare':>6} | {'peak RSS':>8}"
    )
    print(header)
    print("-" * len(header))
    results = []
    with tempfile.TemporaryDirectory(prefix="tether-bench-") as tmp:
        for n in sizes:
            for variant in ("git", "cached"):
                root = Path(tmp) / f"{variant}-{n}"
                build(root, n, cached=variant == "cached")
                first, last = "v1.0.1", f"v1.0.{n}"
                t_diff, _ = timed([tether, "diff", first, last, "--json"], root, repeat)
                d_metrics, _ = timed([dvc, "metrics", "diff", first, last, "--json"], root, repeat)
                d_params, _ = timed([dvc, "params", "diff", first, last, "--json"], root, repeat)
                t_hist, rss = timed([tether, "history", "--json"], root, repeat)
                # DVC's history over 100+ tags takes many seconds: one run is enough.
                d_show, _ = timed(
                    [dvc, "metrics", "show", "-T", "--json"], root, repeat if n < 100 else 1
                )
                bare, _ = timed([sys.executable, "-c", BARE_LOOP, variant], root, repeat)
                d_diff = d_metrics + d_params
                row = {
                    "variant": variant,
                    "tags": n,
                    "tether_diff": t_diff,
                    "dvc_diff": d_diff,
                    "diff_ratio": d_diff / t_diff,
                    "tether_history": t_hist,
                    "dvc_show": d_show,
                    "history_ratio": d_show / t_hist,
                    "bare_loop": bare,
                    "vs_bare": t_hist / bare,
                    "peak_rss_mb": rss / 1024,
                }
                results.append(row)
                print(
                    f"{variant:8} {n:>5} | {t_diff:>10.3f}s {d_diff:>8.3f}s {row['diff_ratio']:>5.1f}x | "
                    f"{t_hist:>10.3f}s {d_show:>10.3f}s {row['history_ratio']:>5.1f}x | "
                    f"{bare:>8.3f}s {row['vs_bare']:>5.2f}x | {row['peak_rss_mb']:>6.1f}MB",
                    flush=True,
                )
    print()
    print("targets: diff >= 5x faster than dvc; history at 500 tags >= 50x faster than dvc show -T")
    print("and within 3x of the bare loop; peak RSS < 150 MB at 500 tags.")
    big = [r for r in results if r["tags"] == max(sizes)]
    for r in big:
        ok = (
            r["diff_ratio"] >= 5
            and r["history_ratio"] >= 50
            and r["vs_bare"] <= 3
            and r["peak_rss_mb"] < 150
        )
        print(f"{r['variant']:8} {r['tags']} tags: {'all targets met' if ok else 'TARGET MISSED'}")


if __name__ == "__main__":
    main()
