"""`tether serve` against `mlflow models serve` on the same scikit-learn model.

Builds the template project in a temporary directory with two releases (v1.0.0 in
#prod, v2.0.0 with another C), creates MLflow's own virtual environment (cached
under benchmarks/.cache/, never a project dependency) with the same scikit-learn,
saves v1's pickled model there as an MLflow sklearn model, then measures on
127.0.0.1, client in this process:

- start-up: process start to the first answered /invocations;
- 1 client sequential: requests/s, p50 and p99 latency of a one-row request;
- 8 concurrent clients: requests/s and p99;
- a change of model under 8 clients: tether follows `tether promote` (and then
  `tether rollback`) with --poll 0.5; MLflow changes model the only way it can,
  by a restart. Failed requests, and the time from the tag being visible (the
  promote command has returned) to the new version answering.

    .venv/bin/python benchmarks/bench_serve.py
    .venv/bin/python benchmarks/bench_serve.py --requests 500 --mlflow-version 3.17.2
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path

from common import BIN, ENV, compile_tether, copy_template
from tether import objects

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
ARTIFACT = "cancer-classifier"


def sh(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, env=env or ENV
    )
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, args))} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def build_project(root: Path) -> None:
    """The template with v1.0.0 (in #prod) and v2.0.0 released."""
    root.mkdir(parents=True)
    copy_template(root)
    env = {**ENV, "PATH": f"{BIN}{os.pathsep}{ENV.get('PATH', '')}"}
    sh("git", "init", "-q", "-b", "main", cwd=root)
    sh(BIN / "tether", "run", cwd=root, env=env)
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-q", "-m", "template", cwd=root)
    sh(BIN / "tether", "release", ARTIFACT, "--version", "v1.0.0", cwd=root, env=env)
    sh(BIN / "tether", "promote", ARTIFACT, "v1.0.0", "prod", cwd=root, env=env)
    sh(BIN / "tether", "run", "model.params.C=0.01", cwd=root, env=env)
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-q", "-m", "C=0.01", cwd=root)
    sh(BIN / "tether", "release", ARTIFACT, "--version", "v2.0.0", cwd=root, env=env)


def mlflow_env(version: str) -> Path:
    """MLflow's own virtual environment with this scikit-learn (created once, cached)."""
    sklearn = metadata.version("scikit-learn")
    venv = CACHE / f"mlflow-{version}-sklearn-{sklearn}"
    python = venv / "bin" / "python"
    if not (venv / ".complete").exists():
        shutil.rmtree(venv, ignore_errors=True)
        print(f"creating {venv} (mlflow=={version}, scikit-learn=={sklearn})...", flush=True)
        uv = shutil.which("uv")
        if uv:
            sh(uv, "venv", "--python", sys.executable, venv, cwd=HERE)
            sh(uv, "pip", "install", "--python", python, f"mlflow=={version}",
               f"scikit-learn=={sklearn}", cwd=HERE)  # fmt: skip
        else:
            sh(sys.executable, "-m", "venv", venv, cwd=HERE)
            sh(python, "-m", "pip", "install", "--quiet", f"mlflow=={version}",
               f"scikit-learn=={sklearn}", cwd=HERE)  # fmt: skip
        (venv / ".complete").touch()
    return venv


def save_mlflow_model(venv: Path, pickled: Path, target: Path) -> None:
    code = (
        "import pickle, sys, mlflow.sklearn\n"
        "model = pickle.load(open(sys.argv[1], 'rb'))\n"
        "mlflow.sklearn.save_model(model, sys.argv[2], serialization_format='cloudpickle')\n"
    )
    sh(venv / "bin" / "python", "-c", code, pickled, target, cwd=target.parent)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Conn:
    """One keep-alive HTTP connection (http.client: the lightest client to hand)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, body: bytes) -> tuple[int, str | None]:
        try:
            self.conn.request("POST", "/invocations", body, {"Content-Type": "application/json"})
            response = self.conn.getresponse()
            response.read()
            return response.status, response.getheader("X-Model-Version")
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            return 0, None


@contextlib.contextmanager
def server(
    cmd: list[str], cwd: Path, port: int, body: bytes
) -> Iterator[tuple[subprocess.Popen[bytes], float]]:
    """Start a server; yield it and the seconds to its first answered request."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        first = wait_answer(port, body, proc)
        yield proc, first - start
    finally:
        stop(proc)


def wait_answer(
    port: int, body: bytes, proc: subprocess.Popen[bytes] | None, timeout: float = 180
) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        status, _ = Conn(port).post(body)
        if status == 200:
            return time.perf_counter()
        time.sleep(0.02)
    raise SystemExit(f"no answer on port {port} within {timeout}s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def sequential(port: int, body: bytes, requests: int) -> dict[str, float]:
    conn = Conn(port)
    for _ in range(50):
        conn.post(body)
    latencies = []
    start = time.perf_counter()
    for _ in range(requests):
        t = time.perf_counter()
        status, _ = conn.post(body)
        latencies.append(time.perf_counter() - t)
        assert status == 200, status
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "rps": requests / elapsed,
        "p50": latencies[len(latencies) // 2] * 1000,
        "p99": latencies[int(len(latencies) * 0.99)] * 1000,
    }


def concurrent(port: int, body: bytes, clients: int, requests: int) -> dict[str, float]:
    latencies: list[float] = []
    failed = [0]
    lock = threading.Lock()

    def client() -> None:
        conn = Conn(port)
        mine = []
        for _ in range(requests // clients):
            t = time.perf_counter()
            status, _ = conn.post(body)
            mine.append(time.perf_counter() - t)
            if status != 200:
                failed[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p99": latencies[int(len(latencies) * 0.99)] * 1000,
        "failed": failed[0],
    }


class Load:
    """``clients`` threads sending back to back, recording (time, status, version)."""

    def __init__(self, port: int, body: bytes, clients: int) -> None:
        self.answers: list[tuple[float, int, str | None]] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(port, body), daemon=True)
            for _ in range(clients)
        ]

    def _run(self, port: int, body: bytes) -> None:
        conn = Conn(port)
        while not self._stop.is_set():
            status, version = conn.post(body)
            self.answers.append((time.perf_counter(), status, version))
            if status != 200:
                time.sleep(0.01)  # a refused connection returns at once: do not spin

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()

    def until(self, done: Callable[[], bool], timeout: float = 120) -> None:
        deadline = time.perf_counter() + timeout
        while not done() and time.perf_counter() < deadline:
            time.sleep(0.01)

    def after(self, since: float) -> list[tuple[float, int, str | None]]:
        return [a for a in list(self.answers) if a[0] >= since]


def tether_change(project: Path, port: int, body: bytes, clients: int) -> list[dict[str, float]]:
    """Promote v2 then roll back under load; per change: requests across it, failed,
    and seconds from the tag being visible to the new version answering."""
    results = []
    env = {**ENV, "PATH": f"{BIN}{os.pathsep}{ENV.get('PATH', '')}"}
    with Load(port, body, clients) as load:
        time.sleep(1.0)
        for command, target in (
            (["promote", ARTIFACT, "v2.0.0", "prod"], f"{ARTIFACT}@v2.0.0"),
            (["rollback", ARTIFACT, "prod"], f"{ARTIFACT}@v1.0.0"),
        ):
            begin = time.perf_counter()
            sh(BIN / "tether", *command, cwd=project, env=env)
            visible = time.perf_counter()
            load.until(lambda t=target, v=visible: any(a[2] == t for a in load.after(v)))
            switched = next(a[0] for a in load.after(visible) if a[2] == target)
            load.until(lambda s=switched: len(load.after(s)) >= 500)
            window = load.after(begin - 1.0)
            results.append({
                "requests": len(window),
                "failed": sum(1 for a in window if a[1] != 200),
                "switch": switched - visible,
            })  # fmt: skip
            time.sleep(0.5)
    return results


def mlflow_change(env: dict[str, str], cmd_v2: list[str], cwd: Path, port: int, body: bytes, clients: int,
                  proc: subprocess.Popen[bytes]) -> dict[str, float]:  # fmt: skip
    """MLflow changes model by a restart: stop v1's server, start v2's on the same port.
    The switch is timed from the stop to the first answer after v1's process is gone."""
    with Load(port, body, clients) as load:
        time.sleep(1.0)
        begin = time.perf_counter()
        stop(proc)
        gone = time.perf_counter()
        new = subprocess.Popen(
            cmd_v2, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        try:
            load.until(lambda: any(a[1] == 200 for a in load.after(gone)))
            switched = next(a[0] for a in load.after(gone) if a[1] == 200)
            load.until(lambda: len(load.after(switched)) >= 500)
            window = load.after(begin - 1.0)
        finally:
            load._stop.set()
            stop(new)
    return {
        "requests": len(window),
        "failed": sum(1 for a in window if a[1] != 200),
        "switch": switched - begin,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per throughput run")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--mlflow-version", default="3.17.2")
    args = parser.parse_args()
    compile_tether()
    venv = mlflow_env(args.mlflow_version)

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        project = base / "project"
        print("building the project and its two releases...", flush=True)
        build_project(project)
        # the same pickled bytes tether serves, fetched by md5 through tether's door
        v1, v2 = base / "mlflow-v1", base / "mlflow-v2"
        for version, target in (("v1.0.0", v1), ("v2.0.0", v2)):
            ref = f"{ARTIFACT}@{version}"
            outs = json.loads(sh(BIN / "tether", "manifest", ref, "--json", cwd=project))["outs"]
            save_mlflow_model(venv, objects.fetch(project, outs["models/model.pkl"]), target)

        schema = json.loads((project / "models" / "schema.json").read_text())
        columns = [c["name"] for c in schema["columns"]]
        body = json.dumps(
            {"dataframe_split": {"columns": columns, "data": [[1.0] * len(columns)]}}
        ).encode()

        results: dict[str, dict[str, float]] = {}
        tport, mport = free_port(), free_port()
        tether_cmd = [
            str(BIN / "tether"),
            "serve",
            f"{ARTIFACT}#prod",
            "--poll",
            "0.5",
            "--port",
            str(tport),
        ]
        mlflow_cmd = [str(venv / "bin" / "mlflow"), "models", "serve", "-m", str(v1), "--env-manager", "local",
                      "-h", "127.0.0.1", "-p", str(mport)]  # fmt: skip
        print("tether serve...", flush=True)
        with server(tether_cmd, project, tport, body) as (_, startup):
            results["tether"] = {"startup": startup}
            results["tether"].update(
                {f"seq_{k}": v for k, v in sequential(tport, body, args.requests).items()}
            )
            results["tether"].update(
                {
                    f"conc_{k}": v
                    for k, v in concurrent(tport, body, args.clients, args.requests).items()
                }
            )
            changes = tether_change(project, tport, body, args.clients)
        print("mlflow models serve...", flush=True)
        # mlflow runs `uvicorn` from PATH: its own environment's bin first
        mlflow_env_vars = {**ENV, "PATH": f"{venv / 'bin'}{os.pathsep}{ENV.get('PATH', '')}"}
        mlflow_proc = subprocess.Popen(
            mlflow_cmd, cwd=base, env=mlflow_env_vars, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        begin = time.perf_counter()
        try:
            first = wait_answer(mport, body, mlflow_proc)
            results["mlflow"] = {"startup": first - begin}
            results["mlflow"].update(
                {f"seq_{k}": v for k, v in sequential(mport, body, args.requests).items()}
            )
            results["mlflow"].update(
                {
                    f"conc_{k}": v
                    for k, v in concurrent(mport, body, args.clients, args.requests).items()
                }
            )
            mlflow_v2_cmd = [*mlflow_cmd[:4], str(v2), *mlflow_cmd[5:]]
            restart = mlflow_change(
                mlflow_env_vars, mlflow_v2_cmd, base, mport, body, args.clients, mlflow_proc
            )
        finally:
            stop(mlflow_proc)

    t, m = results["tether"], results["mlflow"]
    print()
    print(f"{'measure':<40} {'tether':>10} {'mlflow':>10} {'ratio':>8}")
    print("-" * 71)
    rows = [
        ("start-up to first answer (s)", t["startup"], m["startup"], m["startup"] / t["startup"]),
        ("1 client: requests/s", t["seq_rps"], m["seq_rps"], t["seq_rps"] / m["seq_rps"]),
        ("1 client: p50 latency (ms)", t["seq_p50"], m["seq_p50"], m["seq_p50"] / t["seq_p50"]),
        ("1 client: p99 latency (ms)", t["seq_p99"], m["seq_p99"], m["seq_p99"] / t["seq_p99"]),
        (f"{args.clients} clients: requests/s", t["conc_rps"], m["conc_rps"], t["conc_rps"] / m["conc_rps"]),
        (f"{args.clients} clients: p99 latency (ms)", t["conc_p99"], m["conc_p99"], m["conc_p99"] / t["conc_p99"]),
    ]  # fmt: skip
    for name, ours, theirs, ratio in rows:
        print(f"{name:<40} {ours:>10.2f} {theirs:>10.2f} {ratio:>7.1f}x")
    print()
    print(f"change of model under {args.clients} clients")
    for label, change in (("tether promote v2 (--poll 0.5)", changes[0]),
                          ("tether rollback (--poll 0.5)", changes[1]),
                          ("mlflow restart with v2", restart)):  # fmt: skip
        print(
            f"  {label:<34} {change['requests']:>6.0f} requests, {change['failed']:>5.0f} failed, "
            f"new version answering {change['switch']:.2f} s after the "
            f"{'tag was visible' if label.startswith('tether') else 'restart began'}"
        )


if __name__ == "__main__":
    main()
