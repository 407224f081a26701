"""The numerics profiles, their environment, the stage hook and the record's
comparison, each at its own level (no pipeline here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tether import environment, numerics
from tether.environment import NumericsRecord, numerics_differences
from tether.errors import ConfigError


def test_the_default_profile_pins_every_layer_that_changes_bits() -> None:
    env = numerics.environ(numerics.profile(None), {"PATH": "/bin", "OPENBLAS_CORETYPE": "Zen"})
    assert env["OPENBLAS_CORETYPE"] == "Nehalem"  # the user's kernel choice is replaced
    assert env["MKL_CBWR"] == "SSE4_2,STRICT"
    assert env["OPENBLAS_NUM_THREADS"] == env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "1"
    assert "X86_V2" in env["NPY_ENABLE_CPU_FEATURES"].split()
    assert "X86_V3" not in env["NPY_ENABLE_CPU_FEATURES"].split()
    assert "-FMA" in env["GLIBC_TUNABLES"] and "-AVX2" in env["GLIBC_TUNABLES"]
    assert env[numerics.MARKER] == "x86-64-v2" and env["PATH"] == "/bin"


def test_other_glibc_tunables_are_kept_and_native_keeps_what_the_user_set() -> None:
    base = {"GLIBC_TUNABLES": "glibc.malloc.arena_max=2:glibc.cpu.hwcaps=-SSE4_2"}
    env = numerics.environ(numerics.profile("x86-64-v2"), base)
    parts = env["GLIBC_TUNABLES"].split(":")
    assert parts[0] == "glibc.malloc.arena_max=2" and parts[1].startswith("glibc.cpu.hwcaps=-AVX,")
    native = numerics.environ(numerics.profile("native"), {"OMP_NUM_THREADS": "3"})
    assert native == {"OMP_NUM_THREADS": "3", numerics.MARKER: "native"}


def test_an_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        numerics.profile("x86-64-v9")
    assert caught.value.message == (
        "unknown numerics profile 'x86-64-v9' (the numerics key of params.yaml)"
    )
    assert caught.value.hint == (
        "Choose one of x86-64-v2, x86-64-v3, native in conf/config.yaml, then `tether run`."
    )


def test_a_cpu_without_avx2_cannot_run_the_v3_profile() -> None:
    v3 = numerics.profile("x86-64-v3")
    nehalem = dict.fromkeys(("SSE", "SSE2", "SSE3", "SSSE3", "SSE41", "POPCNT", "SSE42"), True)
    assert v3.lacks(nehalem, "x86_64") == ["AVX", "F16C", "FMA3", "AVX2"]
    assert numerics.profile("x86-64-v2").lacks(nehalem, "x86_64") == []
    assert numerics.profile("x86-64-v2").lacks(nehalem, "aarch64") == [
        "an x86_64/AMD64 CPU (this one is aarch64)"
    ]


def test_the_committed_profile_is_read_from_params_yaml_above_the_stage(tmp_path: Path) -> None:
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "params.yaml").write_text("seed: 1\nnumerics: 'x86-64-v3'  # faster\n")
    (tmp_path / "sub").mkdir()
    assert numerics.committed_name(tmp_path / "sub") == "x86-64-v3"
    (tmp_path / "params.yaml").write_text("seed: 1\nmodel:\n  numerics: native\n")
    assert numerics.committed_name(tmp_path) is None  # only the top-level key counts


@pytest.mark.parametrize(
    ("argv", "entry"),
    [
        (["python", "-m", "pkg.train"], "pkg.train"),
        (["python", "-X", "utf8", "-mpkg.evaluate", "--flag"], "pkg.evaluate"),
        (["python", "-c", "import pkg"], None),
        (["python", "-m", "pytest", "-n", "2"], "pytest"),
        (["python", "train.py"], None),
    ],
)
def test_pin_knows_which_module_a_command_line_runs(argv: list[str], entry: str | None) -> None:
    assert numerics._started_as(argv) == entry


STAGE = """\
import json, os
print(json.dumps({k: os.environ.get(k) for k in
    ("TETHER_NUMERICS", "OPENBLAS_CORETYPE", "GLIBC_TUNABLES", "OMP_NUM_THREADS")}))
"""


def _stage_project(tmp_path: Path, profile: str) -> Path:
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "params.yaml").write_text(f"numerics: {profile}\n")
    package = tmp_path / "src" / "stagepkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("from tether.numerics import pin\n\npin(__name__)\n")
    (package / "stage.py").write_text(STAGE)
    return tmp_path


def _run_stage(project: Path, *args: str, env: dict[str, str] | None = None) -> dict:
    import os

    base = {k: v for k, v in os.environ.items() if not k.startswith(("OPENBLAS", "GLIBC", "OMP"))}
    base.pop(numerics.MARKER, None)
    base["PYTHONPATH"] = os.pathsep.join([str(project / "src"), *sys.path])
    done = subprocess.run(
        [sys.executable, *args],
        cwd=project,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_stage_started_as_a_module_re_executes_itself_under_the_profile(
    tmp_path: Path,
) -> None:
    seen = _run_stage(_stage_project(tmp_path, "x86-64-v2"), "-m", "stagepkg.stage")
    assert seen["TETHER_NUMERICS"] == "x86-64-v2"
    assert seen["OPENBLAS_CORETYPE"] == "Nehalem" and seen["OMP_NUM_THREADS"] == "1"
    # glibc reads its tunables at start-up only: they reached a new process image.
    assert seen["GLIBC_TUNABLES"].startswith("glibc.cpu.hwcaps=-AVX,")


def test_a_process_that_only_imports_the_stage_package_is_left_alone(tmp_path: Path) -> None:
    project = _stage_project(tmp_path, "x86-64-v2")
    seen = _run_stage(project, "-c", "import stagepkg.stage")
    assert seen["TETHER_NUMERICS"] is None and seen["OPENBLAS_CORETYPE"] is None


def test_a_process_tether_started_keeps_the_profile_it_was_given(tmp_path: Path) -> None:
    project = _stage_project(tmp_path, "x86-64-v2")
    seen = _run_stage(project, "-m", "stagepkg.stage", env={numerics.MARKER: "native"})
    assert seen["TETHER_NUMERICS"] == "native" and seen["OPENBLAS_CORETYPE"] is None


def test_an_unknown_profile_stops_the_stage_with_the_fix(tmp_path: Path) -> None:
    import os

    project = _stage_project(tmp_path, "fastest")
    done = subprocess.run(
        [sys.executable, "-m", "stagepkg.stage"],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(project / "src")} | {numerics.MARKER: ""},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "tether numerics: unknown numerics profile 'fastest' (the numerics key of params.yaml). "
        "Choose one of x86-64-v2, x86-64-v3, native in conf/config.yaml, then `tether run`."
    )


def test_the_probe_reports_the_kernel_a_profile_forces(tmp_path: Path) -> None:
    record = environment.probe_numerics(numerics.profile("x86-64-v2"), tmp_path)
    assert record.lacks == ()
    assert record.blas, "numpy's and scipy's OpenBLAS are found"
    assert {info["kernel"] for info in record.blas.values()} == {"Nehalem"}
    assert {info["threads"] for info in record.blas.values()} == {1}
    assert record.simd == ("X86_V2",) or "X86_V3" not in record.simd
    assert set(record.native_kernels) == set(record.blas)


def _record(**changes: object) -> NumericsRecord:
    base = {
        "profile": "x86-64-v2",
        "variables": dict(numerics.profile("x86-64-v2").variables),
        "machine": "x86_64",
        "cpu": "AMD EPYC 7B13",
        "blas": {
            "numpy": {"library": "openblas", "version": "0.3.31", "kernel": "Nehalem", "threads": 1}
        },
        "simd": ["X86_V2"],
        "libc": "glibc 2.36",
    }
    return NumericsRecord.from_dict({**base, **changes})  # type: ignore[return-value]


def test_two_builds_under_one_profile_do_not_differ_by_their_cpu_model() -> None:
    assert numerics_differences(_record(), _record(cpu="Intel Xeon Platinum 8480")) == []


def test_each_numerics_difference_is_named() -> None:
    native = _record(
        profile="native",
        variables={},
        blas={
            "numpy": {
                "library": "openblas",
                "version": "0.3.31",
                "kernel": "SkylakeX",
                "threads": 2,
            }
        },
        simd=["X86_V2", "X86_V3", "X86_V4"],
        cpu="Intel Xeon Platinum 8480",
    )
    assert numerics_differences(_record(), native) == [
        "profile x86-64-v2 then, native now",
        "numpy's openblas kernel Nehalem then, SkylakeX now",
        "numpy's openblas threads 1 then, 2 now",
        "numpy's SIMD levels X86_V2 then, X86_V2 X86_V3 X86_V4 now",
        "libm's CPU variants (FMA, AVX2) masked differently",
        "CPU AMD EPYC 7B13 then, Intel Xeon Platinum 8480 now",
    ]
