"""What in the machine can change a result: interpreter, packages, platform and
thread counts. ``tether release`` records it in the manifest; ``tether verify``
captures it again and reports what differs."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from tether import numerics
from tether.backends import process
from tether.formats import flatten

# Packages whose versions can change a model's bytes or how it is built.
DEFAULT_PACKAGES = (
    "tether", "dvc", "hydra-core", "scikit-learn", "scipy", "numpy", "pandas", "gitpython",
)  # fmt: skip

# Environment variables that set native thread pool sizes (BLAS, OpenMP).
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


@dataclass(frozen=True)
class EnvironmentDifference:
    key: str  # e.g. ``python``, ``packages.numpy``, ``threads.cpu_count``
    recorded: Any
    current: Any


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def capture(packages: Sequence[str] = DEFAULT_PACKAGES) -> dict[str, Any]:
    """This machine's environment, in the shape compared by ``differences``."""
    return {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": {name: package_version(name) for name in packages},
        "threads": {
            "cpu_count": os.cpu_count(),
            **{var: os.environ.get(var) for var in THREAD_VARIABLES},
        },
    }


def differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[EnvironmentDifference]:
    """Every key the recorded environment has whose value differs now.

    Keys the record lacks are not differences: an older manifest that recorded
    less says nothing about them.
    """
    then = flatten(recorded)
    now = flatten(current)
    return [
        EnvironmentDifference(key, then[key], now.get(key))
        for key in sorted(then)
        if str(then[key]) != str(now.get(key))
    ]


# --- numerics: what the BLAS, numpy and libm of this machine really run ----------

# Run by the stage interpreter (``python -c``): numpy's CPU features (read by CPUID,
# so an emulated CPU's own), its enabled SIMD levels, and every BLAS threadpoolctl
# finds once numpy and scipy are loaded: library, version, kernel, threads.
_PROBE = r"""
import json, os, platform, re
out = {"machine": platform.machine(), "libc": " ".join(platform.libc_ver()).strip()}
try:
    for line in open("/proc/cpuinfo", encoding="ascii", errors="replace"):
        if line.startswith("model name"):
            out["cpu"] = line.split(":", 1)[1].strip()
            break
except OSError:
    pass
try:
    import numpy
    try:
        from numpy._core import _multiarray_umath as umath
    except ImportError:
        from numpy.core import _multiarray_umath as umath
    features = umath.__cpu_features__
    out["features"] = sorted(k for k, v in features.items() if v)
    out["simd"] = list(umath.__cpu_baseline__) + [
        f for f in umath.__cpu_dispatch__ if features.get(f)
    ]
    out["numpy"] = numpy.__version__
except Exception:
    pass
try:
    import scipy.linalg  # loads scipy's own BLAS
except Exception:
    pass
try:
    import threadpoolctl
    blas = {}
    for info in threadpoolctl.threadpool_info():
        folder = os.path.basename(os.path.dirname(info.get("filepath") or ""))
        owner = folder[:-5] if folder.endswith(".libs") else info.get("prefix")
        blas[owner] = {
            "library": info.get("internal_api"),
            "version": info.get("version"),
            "kernel": info.get("architecture"),
            "threads": info.get("num_threads"),
        }
    out["blas"] = blas
except Exception:
    pass
print(json.dumps(out))
"""


@dataclass(frozen=True)
class NumericsRecord:
    """What a build ran: the profile asked for, and what the machine did with it."""

    profile: str
    variables: dict[str, str]
    machine: str = ""
    cpu: str = ""  # the CPU model (the emulated one's name under ``verify --cpu``)
    lacks: tuple[str, ...] = ()  # what the CPU lacked to run the profile
    blas: dict[str, dict[str, Any]] = field(default_factory=dict)  # per owning package
    native_kernels: dict[str, str] = field(default_factory=dict)  # what it picks unpinned
    simd: tuple[str, ...] = ()  # numpy's baseline and enabled dispatch levels
    libc: str = ""
    features: tuple[str, ...] = ()  # the CPU's features (CPUID, in numpy's names)

    @property
    def applied(self) -> bool:
        """Whether the profile's pins really applied (not so on a CPU that lacks
        what it needs, nor for ``native``, which pins nothing)."""
        return not self.lacks and bool(self.variables)

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "variables": self.variables,
            "machine": self.machine,
            "cpu": self.cpu,
            "lacks": list(self.lacks),
            "blas": self.blas,
            "native_kernels": self.native_kernels,
            "simd": list(self.simd),
            "libc": self.libc,
            "features": list(self.features),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NumericsRecord | None:
        if not isinstance(data, dict) or not isinstance(data.get("profile"), str):
            return None
        return cls(
            profile=data["profile"],
            variables=dict(data.get("variables") or {}),
            machine=str(data.get("machine") or ""),
            cpu=str(data.get("cpu") or ""),
            lacks=tuple(data.get("lacks") or ()),
            blas={k: dict(v) for k, v in (data.get("blas") or {}).items() if isinstance(v, dict)},
            native_kernels=dict(data.get("native_kernels") or {}),
            simd=tuple(data.get("simd") or ()),
            libc=str(data.get("libc") or ""),
            features=tuple(data.get("features") or ()),
        )


def probe_numerics(
    chosen: numerics.Profile,
    cwd: Path,
    python: str | None = None,
    base: Mapping[str, str] | None = None,
    emulated: str | None = None,
) -> NumericsRecord:
    """Ask ``python`` (the stages' interpreter; this one by default) what it runs, once
    with nothing pinned (the CPU's features and own kernels) and, when the CPU can
    run it, once under ``chosen``. ``emulated`` names the CPU an emulator presents."""
    env = dict(os.environ if base is None else base)
    interpreter = python or sys.executable
    unpinned_env = {k: v for k, v in env.items() if k not in numerics.VARIABLES}
    unpinned_env[numerics.MARKER] = numerics.NATIVE
    unpinned = process.python_json(interpreter, _PROBE, unpinned_env, cwd) or {}
    features = {name: True for name in unpinned.get("features", [])}
    machine = str(unpinned.get("machine") or platform.machine())
    lacks = tuple(chosen.lacks(features, machine)) if features else ()
    ran = unpinned
    if chosen.variables and not lacks:
        ran = process.python_json(interpreter, _PROBE, numerics.environ(chosen, env), cwd) or {}
    native_kernels = {
        owner: str(info.get("kernel")) for owner, info in (unpinned.get("blas") or {}).items()
    }
    return NumericsRecord(
        profile=chosen.name,
        variables=dict(chosen.variables) if not lacks else {},
        machine=machine,
        cpu=emulated or str(unpinned.get("cpu") or ""),
        lacks=lacks,
        blas=dict(ran.get("blas") or {}),
        native_kernels=native_kernels,
        simd=tuple(ran.get("simd") or ()),
        libc=str(ran.get("libc") or ""),
        features=tuple(unpinned.get("features") or ()),
    )


def stage_kernels(chosen: numerics.Profile, cwd: Path) -> dict[str, dict[str, Any]]:
    """The BLAS libraries a stage process started here under ``chosen`` gets (library,
    kernel, threads): the profile's variables, or under ``native`` the user's own."""
    ran = process.python_json(sys.executable, _PROBE, numerics.environ(chosen, os.environ), cwd)
    return dict((ran or {}).get("blas") or {})


def numerics_differences(then: NumericsRecord, now: NumericsRecord) -> list[str]:
    """Each way the numerics of two builds differ, in words; [] when they match in
    everything that changes bits (the CPU model alone does not, under a profile)."""
    found: list[str] = []
    if then.profile != now.profile:
        found.append(f"profile {then.profile} then, {now.profile} now")
    if now.lacks and not then.lacks:
        found.append(f"this CPU cannot run profile {now.profile} (it lacks {', '.join(now.lacks)})")
    for owner in sorted(set(then.blas) | set(now.blas)):
        old, new = then.blas.get(owner) or {}, now.blas.get(owner) or {}
        for key, noun in (("kernel", "kernel"), ("threads", "threads"), ("version", "version")):
            if old.get(key) != new.get(key):
                found.append(
                    f"{owner}'s {old.get('library') or new.get('library') or 'BLAS'} {noun} "
                    f"{old.get(key)} then, {new.get(key)} now"
                )
    if then.simd != now.simd:
        found.append(
            f"numpy's SIMD levels {' '.join(then.simd) or '-'} then, {' '.join(now.simd) or '-'} now"
        )
    if then.variables.get("GLIBC_TUNABLES") != now.variables.get("GLIBC_TUNABLES"):
        found.append("libm's CPU variants (FMA, AVX2) masked differently")
    native = not (then.applied and now.applied)
    if native and then.cpu != now.cpu and (then.cpu or now.cpu):
        found.append(f"CPU {then.cpu or 'unknown'} then, {now.cpu or 'unknown'} now")
    return found


_CAPTURE = r"""
import json, os, platform, sys
from importlib import metadata
def version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
names = json.loads(sys.argv[1]) if len(sys.argv) > 1 else []
print(json.dumps({
    "python": platform.python_version(),
    "implementation": sys.implementation.name,
    "platform": platform.platform(),
    "machine": platform.machine(),
    "packages": {name: version(name) for name in names},
}))
"""


def capture_in(python: str, packages: Sequence[str], cwd: Path) -> dict[str, Any] | None:
    """``capture``'s shape (threads left out) as seen by another interpreter (the
    stages' own, in a replayed or second environment); None when it cannot say."""
    import json

    code = _CAPTURE.replace("sys.argv[1]", repr(json.dumps(list(packages))))
    code = code.replace("if len(sys.argv) > 1 else []", "")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return process.python_json(python, code, env, cwd)
