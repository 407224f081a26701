"""The cost of pinned numerics: the default profile (x86-64-v2) against `native`.

The same stages under four numerics settings, interleaved (A B C D A B C D ...),
median wall time, ratios to `native`:

- ``x86-64-v2``, the project's default: Nehalem BLAS kernels, numpy capped at
  X86_V2, glibc's libm without its AVX2/FMA variants, one thread;
- ``x86-64-v3``: Haswell kernels, numpy capped at X86_V3, one thread;
- ``native``: nothing pinned (this CPU's kernels, every core for BLAS);
- ``native, 1 thread``: this CPU's kernels on one thread, to tell the kernels' cost
  from the threads'.

Three measures:

1. the example pipeline's stage commands (prepare, train, evaluate, as dvc.yaml runs
   them) in a copy of the template project, with the model's md5 under each setting;
2. BLAS-heavy stages: an MLP (one hidden layer of 256, 8 epochs of adam) and a
   multinomial logistic regression (lbfgs) on 20000 x 200 float64, 10 classes, fit time measured in the
   stage process, with the md5 of the fitted weights;
3. ``pin()``'s re-execution: a stage module that imports nothing, started with the
   profile already in its environment (as tether starts stages) and without (as a
   plain ``dvc repro`` does: the stage re-executes itself once).

Each setting is given to the stage process as ``tether.numerics.environ`` gives it,
marker included, so ``pin()`` applies nothing again; a probe process run with the
same environment reports the BLAS kernel and threads that threadpoolctl sees.

    python benchmarks/bench_numerics.py [--repeat N] [--quick]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ENV, compile_tether, copy_template, run
from tether import numerics

ROWS, COLUMNS, CLASSES = 20_000, 200, 10

# What a probe process prints: the BLAS library's kernel and threads, and the
# highest SIMD target numpy dispatches to, as this environment leaves them.
PROBE = """
import json, os
import numpy
from threadpoolctl import threadpool_info
try:
    from numpy._core import _multiarray_umath as umath
except ImportError:
    from numpy.core import _multiarray_umath as umath
blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
enabled = [t for t in umath.__cpu_dispatch__ if umath.__cpu_features__.get(t)]
print(json.dumps({
    "kernel": blas[0].get("architecture") if blas else None,
    "threads": blas[0]["num_threads"] if blas else None,
    "simd": enabled[-1] if enabled else "+".join(umath.__cpu_baseline__[-1:]),
    "marker": os.environ.get("TETHER_NUMERICS"),
}))
"""

# A stage module that does nothing (written into the project copy): what pin() costs.
NOOP_STAGE = "import os\nprint(os.environ.get('TETHER_NUMERICS'))\n"


def fit_child(kind: str) -> None:
    """Run in a child process: fit one BLAS-heavy model; print the fit's seconds and
    the md5 of its weights as JSON."""
    import warnings

    import numpy as np

    rng = np.random.RandomState(0)
    X = rng.standard_normal((ROWS, COLUMNS))
    W = rng.standard_normal((COLUMNS, CLASSES)) / np.sqrt(COLUMNS)
    y = np.argmax(X @ W + 0.5 * rng.standard_normal((ROWS, CLASSES)), axis=1)
    warnings.simplefilter("ignore")  # ConvergenceWarning: the epochs are capped on purpose
    if kind == "mlp":
        from sklearn.neural_network import MLPClassifier

        model = MLPClassifier(hidden_layer_sizes=(256,), max_iter=8, random_state=0)
    else:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(solver="lbfgs", C=100.0, max_iter=300, tol=1e-10)
    start = time.perf_counter()
    model.fit(X, y)
    seconds = time.perf_counter() - start
    weights = model.coefs_ if kind == "mlp" else [model.coef_, model.intercept_]
    digest = hashlib.md5(b"".join(np.ascontiguousarray(a).tobytes() for a in weights))
    print(json.dumps({"seconds": seconds, "md5": digest.hexdigest()}))


def variants(base: dict[str, str]) -> dict[str, dict[str, str]]:
    """The four settings' environments, from ``base`` with no numerics variable."""
    clean = {k: v for k, v in base.items() if k not in (*numerics.VARIABLES, numerics.MARKER)}
    native = numerics.environ(numerics.PROFILES[numerics.NATIVE], clean)
    return {
        "x86-64-v2 (default)": numerics.environ(numerics.PROFILES["x86-64-v2"], clean),
        "x86-64-v3": numerics.environ(numerics.PROFILES["x86-64-v3"], clean),
        "native": native,
        "native, 1 thread": {**native, **dict.fromkeys(numerics.THREAD_VARIABLES, "1")},
    }


def probe(env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, text=True, capture_output=True, check=True
    )
    return json.loads(out.stdout)


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, text=True, capture_output=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return elapsed, proc.stdout


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def report(title: str, samples: dict[str, list[float]], digests: dict[str, str]) -> None:
    """Print each setting's median and its ratio to native (one thread and all)."""
    medians = {name: statistics.median(times) for name, times in samples.items()}
    print(title)
    for name, median in medians.items():
        ratio = median / medians["native"]
        note = f"  md5 {digests[name][:8]}" if digests.get(name) else ""
        print(f"  {name:<22} {median:8.3f} s  {ratio:5.2f}x native{note}")
    default = medians["x86-64-v2 (default)"]
    print(
        f"  default / native = {default / medians['native']:.2f}x, "
        f"default / native 1 thread = {default / medians['native, 1 thread']:.2f}x"
    )


def bench_example(root: Path, envs: dict[str, dict[str, str]], repeat: int) -> None:
    stages = ["prepare", "train", "evaluate"]
    samples: dict[str, list[float]] = {name: [] for name in envs}
    digests: dict[str, str] = {}
    for _ in range(repeat):
        for name, env in envs.items():
            total = 0.0
            for stage in stages:
                total += timed([sys.executable, "-m", f"tabular_classifier.{stage}"], root, env)[0]
            samples[name].append(total)
            digests[name] = md5(root / "models" / "model.pkl")
    report(
        f"example pipeline (prepare + train + evaluate, 3 processes), median of {repeat}",
        samples,
        digests,
    )


def bench_fit(kind: str, envs: dict[str, dict[str, str]], repeat: int) -> None:
    samples: dict[str, list[float]] = {name: [] for name in envs}
    digests: dict[str, str] = {}
    for _ in range(repeat):
        for name, env in envs.items():
            out = timed([sys.executable, __file__, "--fit", kind], Path.cwd(), env)[1]
            result = json.loads(out)
            samples[name].append(result["seconds"])
            digests[name] = result["md5"]
    what = (
        "MLPClassifier((256,), 8 epochs)" if kind == "mlp" else "LogisticRegression(lbfgs, C=100)"
    )
    report(
        f"{what} on {ROWS} x {COLUMNS} float64, {CLASSES} classes, fit time, median of {repeat}",
        samples,
        digests,
    )


def bench_pin(root: Path, base: dict[str, str], pinned: dict[str, str], repeat: int) -> None:
    """One stage process with the profile preset against one that re-executes."""
    bare = {k: v for k, v in base.items() if k not in (*numerics.VARIABLES, numerics.MARKER)}
    cmd = [sys.executable, "-m", "tabular_classifier._bench_noop"]
    floor: list[float] = []
    preset: list[float] = []
    reexec: list[float] = []
    seen = set()
    for _ in range(repeat):
        floor.append(timed([sys.executable, "-c", "pass"], root, bare)[0])
        elapsed, out = timed(cmd, root, pinned)
        preset.append(elapsed)
        seen.add(("preset", out.strip()))
        elapsed, out = timed(cmd, root, bare)
        reexec.append(elapsed)
        seen.add(("re-executed", out.strip()))
    if seen != {("preset", "x86-64-v2"), ("re-executed", "x86-64-v2")}:
        sys.exit(f"pin() did not apply the default profile as expected: {sorted(seen)}")
    a, b, c = (statistics.median(s) * 1000 for s in (floor, preset, reexec))
    print(f"pin(): a stage module that imports nothing, median of {repeat}")
    print(f"  python -c pass (floor)         {a:7.1f} ms")
    print(f"  profile preset (tether run)    {b:7.1f} ms")
    print(f"  pin() re-executes (dvc repro)  {c:7.1f} ms")
    print(f"  re-execution = +{c - b:.1f} ms a stage process, {c / b:.2f}x the preset start")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each setting (default 3)")
    parser.add_argument("--quick", action="store_true", help="one run of each, MLP only")
    parser.add_argument("--fit", choices=["mlp", "logreg"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fit:  # a child process of this benchmark
        fit_child(args.fit)
        return

    compile_tether()
    repeat = 1 if args.quick else args.repeat
    envs = variants(ENV)
    print("settings, as a probe process with each environment sees them:")
    for name, env in envs.items():
        seen = probe(env)
        print(
            f"  {name:<22} BLAS kernel {seen['kernel']}, {seen['threads']} thread(s), "
            f"numpy SIMD up to {seen['simd']}, marker {seen['marker']}"
        )
        wanted = numerics.PROFILES[env[numerics.MARKER]].kernel
        if wanted and seen["kernel"] != wanted:
            sys.exit(f"{name}: BLAS runs {seen['kernel']} kernels, not {wanted}")
    with tempfile.TemporaryDirectory(prefix="bench-numerics-") as tmp:
        root = Path(tmp)
        copy_template(root)
        (root / "src" / "tabular_classifier" / "_bench_noop.py").write_text(NOOP_STAGE)
        staged = env_with_src(root, envs["x86-64-v2 (default)"])
        run(sys.executable, "-m", "tabular_classifier.ingest", cwd=root, env=staged)
        envs_src = {name: env_with_src(root, env) for name, env in envs.items()}
        bench_example(root, envs_src, repeat)
        bench_fit("mlp", envs, repeat)
        if not args.quick:
            bench_fit("logreg", envs, repeat)
        bench_pin(root, env_with_src(root, ENV), staged, 3 if args.quick else 15)


def env_with_src(root: Path, env: dict[str, str]) -> dict[str, str]:
    """``env`` with the project's src/ on PYTHONPATH, as dvc.yaml's commands set it."""
    return {**env, "PYTHONPATH": str(root / "src")}


if __name__ == "__main__":
    main()
