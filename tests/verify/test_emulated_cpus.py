"""Releases built natively verify bit-exact on other CPUs, emulated by qemu-user:
the default numerics profile (x86-64-v2) gives the same bytes on an old CPU
(Nehalem: SSE4.2, no AVX, no FMA) and on a newer one (Haswell: AVX2 and FMA; qemu
emulates no AVX-512, so it is a third kernel family beside the native SkylakeX)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import require_executable, tether
from tests.verify.conftest import Releases

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("cpu", ["Nehalem", "Haswell"])
def test_a_native_release_is_bit_exact_on_an_emulated_cpu(
    releases: Releases, release_copy: Path, cpu: str
) -> None:
    require_executable("qemu-x86_64", "qemu-user")
    proc = tether(release_copy, "verify", releases.refs["v1"], "--cpu", cpu, "--json")
    report = json.loads(proc.stdout)
    assert proc.returncode == 0, proc.stderr
    assert {o["status"] for o in report["outputs"]} == {"exact"}
    now = report["numerics"]["now"]
    assert report["numerics"]["emulated_cpu"] == cpu and now["cpu"] == cpu
    assert now["profile"] == "x86-64-v2" and now["lacks"] == []
    # The CPU's own kernel family is not the one the profile runs.
    assert set(now["native_kernels"].values()) == {cpu}
    assert {b["kernel"] for b in now["blas"].values()} == {"Nehalem"}
    recorded = report["numerics"]["recorded"]
    assert {b["kernel"] for b in recorded["blas"].values()} == {"Nehalem"}
    assert report["causes"] == [] and report["equivalent"] is False


def test_an_unknown_cpu_model_is_refused_with_the_list_to_choose_from(
    releases: Releases, release_copy: Path
) -> None:
    require_executable("qemu-x86_64", "qemu-user")
    proc = tether(release_copy, "verify", releases.refs["v1"], "--cpu", "Haswel")
    assert proc.returncode == 2
    assert "error: qemu does not emulate a CPU called 'Haswel'" in proc.stderr
    assert "Choose one of `qemu-x86_64 -cpu help`, e.g. Haswell" in proc.stderr
    assert not list(release_copy.parent.glob("**/emulated")), "no wrapper left behind"
