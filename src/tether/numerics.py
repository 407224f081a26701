"""Pinned numerics: the same floating-point bits from a stage on every CPU.

The same Python, packages and data still give other bytes on another CPU, because
three libraries choose their code by what the CPU can do, at load time:

- **BLAS** (OpenBLAS in numpy's and scipy's wheels, or MKL) picks a kernel per CPU
  family (SkylakeX, Haswell, Nehalem...) and splits work over threads; kernels of
  different families sum in another order. ``OPENBLAS_CORETYPE`` and ``MKL_CBWR``
  choose the kernel class, the ``*_NUM_THREADS`` variables the split.
- **numpy** dispatches its own SIMD loops (X86_V3, X86_V4, AVX512_*);
  ``NPY_ENABLE_CPU_FEATURES`` caps it (names numpy does not know are ignored, so
  the baseline names of numpy 1.x and 2.x can be listed together).
- **glibc's libm** resolves ``exp``, ``log``, ``pow``, ``sin``... to FMA or AVX2
  variants when the CPU has them, and those round differently in the last bit
  (measured: the example's logistic regression changes bytes with
  ``glibc.cpu.hwcaps=-FMA`` alone). ``GLIBC_TUNABLES`` masks them; glibc reads it
  once, when the process starts, which is why ``pin`` re-executes the process.

A profile names one setting of all three. The project commits its choice as the
``numerics`` key of params.yaml (composed from conf/, so DVC re-runs every stage
that lists it when it changes); ``x86-64-v2`` is the default: any x86-64 CPU of
the last fifteen years runs it, and every such CPU gives the same bits. ``native``
pins nothing: the fastest code for this CPU, and bits that belong to it.

Stage processes apply the profile themselves (``pin()`` at the top of the stage
package, so a plain ``dvc repro`` gets it); ``tether run``, ``verify`` and
``tune`` also set it for every process they start (``environ``).

This module is imported by stage processes before numpy: the standard library only.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tether.backends.process import environ_restored
from tether.errors import ConfigError

PARAM = "numerics"  # the params.yaml key naming the profile
DEFAULT = "x86-64-v2"
NATIVE = "native"
# Set in every process a profile was applied to: the profile's name. A process that
# finds it set applies nothing again (and a stage never re-executes twice).
MARKER = "TETHER_NUMERICS"
# Set by whoever runs the process under an emulator (``tether verify --cpu``), so
# that the record names the emulated CPU (/proc/cpuinfo shows the host's).
EMULATED = "TETHER_EMULATED_CPU"

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
# Every variable a profile may set (and a record shows).
VARIABLES = (
    "OPENBLAS_CORETYPE",
    "MKL_CBWR",
    "NPY_ENABLE_CPU_FEATURES",
    "NPY_DISABLE_CPU_FEATURES",
    "GLIBC_TUNABLES",
    *THREAD_VARIABLES,
)

# The libm variants glibc picks by CPU (sysdeps/x86_64/fpu/multiarch: *-fma, *-fma4,
# *-avx2, *-avx). Two spellings: glibc 2.33 and later, and the older "_Usable" one;
# glibc ignores the names it does not know.
_GLIBC_MASK = (
    "glibc.cpu.hwcaps=-AVX,-AVX2,-FMA,-FMA4,-AVX_Usable,-AVX2_Usable,-FMA_Usable,-FMA4_Usable"
)
_V2_FEATURES = ("SSE", "SSE2", "SSE3", "SSSE3", "SSE41", "POPCNT", "SSE42")
_V3_FEATURES = (*_V2_FEATURES, "AVX", "F16C", "FMA3", "AVX2")


@dataclass(frozen=True)
class Profile:
    name: str
    summary: str
    # CPU features it needs, in numpy's names (``numpy._core._multiarray_umath.
    # __cpu_features__``, read by CPUID, so right under an emulator too).
    requires: tuple[str, ...] = ()
    machines: tuple[str, ...] = ()  # platform.machine() values it runs on; () = any
    variables: Mapping[str, str] = field(default_factory=dict)
    kernel: str | None = None  # the BLAS kernel class it forces, as threadpoolctl names it

    @property
    def portable(self) -> bool:
        """Whether every CPU that can run it gives the same bits."""
        return bool(self.variables)

    def lacks(self, features: Mapping[str, bool], machine: str) -> list[str]:
        """What a CPU with ``features`` on ``machine`` lacks to run this profile."""
        if self.machines and machine not in self.machines:
            return [f"an {'/'.join(self.machines)} CPU (this one is {machine})"]
        return [name for name in self.requires if not features.get(name)]


def _pinned(kernel: str, mkl: str, numpy_features: tuple[str, ...]) -> dict[str, str]:
    return {
        "OPENBLAS_CORETYPE": kernel,
        "MKL_CBWR": f"{mkl},STRICT",
        # numpy 2.4 groups its features by level (X86_V2, X86_V3); older numpy names
        # them one by one. Both lists are given; each numpy ignores the other's names.
        "NPY_ENABLE_CPU_FEATURES": " ".join(numpy_features),
        "GLIBC_TUNABLES": _GLIBC_MASK,
        **dict.fromkeys(THREAD_VARIABLES, "1"),
    }


PROFILES: dict[str, Profile] = {
    "x86-64-v2": Profile(
        "x86-64-v2",
        "portable: SSE4.2 kernels, one BLAS thread; the same bits on any x86-64 CPU since 2009",
        requires=_V2_FEATURES,
        machines=("x86_64", "AMD64"),
        variables=_pinned("Nehalem", "SSE4_2", (*_V2_FEATURES, "X86_V2")),
        kernel="Nehalem",
    ),
    "x86-64-v3": Profile(
        "x86-64-v3",
        "portable among AVX2 CPUs (Haswell, Zen and later): AVX2 kernels, one BLAS thread",
        requires=_V3_FEATURES,
        machines=("x86_64", "AMD64"),
        variables={
            **_pinned("Haswell", "AVX2", (*_V3_FEATURES, "X86_V2", "X86_V3")),
            # AVX2 and FMA are the point of this profile: only AVX-512 is capped, and
            # libm's FMA variants are the same code on every CPU that has FMA.
            "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-FMA4,-FMA4_Usable",
        },
        kernel="Haswell",
    ),
    NATIVE: Profile(
        NATIVE,
        "this CPU's fastest code and all its threads: bits that may differ on another machine",
    ),
}


class UnknownProfile(ConfigError):
    """A profile name that is not in PROFILES."""


def profile(name: str | None) -> Profile:
    """The profile called ``name`` (None: the default)."""
    chosen = name or DEFAULT
    if chosen not in PROFILES:
        raise UnknownProfile(
            f"unknown numerics profile {chosen!r} (the {PARAM} key of params.yaml)",
            f"Choose one of {', '.join(PROFILES)} in conf/config.yaml, then `tether run`.",
        )
    return PROFILES[chosen]


def of_project(root: Path) -> Profile:
    """The profile the project at ``root`` commits (its params.yaml), else the default."""
    return profile(committed_name(root))


def usable(chosen: Profile) -> tuple[Profile, list[str]]:
    """``chosen`` if this CPU can run it, else ``native`` and what the CPU lacks (a
    kernel forced on a CPU without its instructions dies of SIGILL)."""
    import platform

    flags = cpu_flags()
    if flags is None:
        return chosen, []
    features = {name: flag in flags for name, flag in _LINUX_FLAGS.items()}
    missing = chosen.lacks(features, platform.machine())
    return (PROFILES[NATIVE], missing) if missing else (chosen, [])


@contextmanager
def applied(chosen: Profile) -> Iterator[None]:
    """Inside: this process's environment has ``chosen`` applied, so every process it
    starts (DVC's stage commands) runs with it; the environment is put back after."""
    keys = (*VARIABLES, MARKER)
    wanted = environ(chosen, os.environ)
    with environ_restored(keys):
        for key in keys:
            if key in wanted:
                os.environ[key] = wanted[key]
            else:
                os.environ.pop(key, None)
        yield


def environ(chosen: Profile, base: Mapping[str, str]) -> dict[str, str]:
    """``base`` with ``chosen`` applied: its variables set (a GLIBC_TUNABLES already
    there is kept, the mask appended), every other pinning variable left out (a
    profile decides them all), and the marker set."""
    env = {key: value for key, value in base.items() if key not in VARIABLES}
    for key, value in chosen.variables.items():
        if key == "GLIBC_TUNABLES" and base.get(key):
            kept = [
                part for part in base[key].split(":") if not part.startswith("glibc.cpu.hwcaps=")
            ]
            value = ":".join([*kept, value])
        env[key] = value
    if not chosen.variables:  # native: what the user set stays theirs
        env.update({key: base[key] for key in VARIABLES if key in base})
    env[MARKER] = chosen.name
    return env


# --- the stage side: ``pin()`` ---------------------------------------------------

_PARAM_LINE = re.compile(rf"^{PARAM}:[ \t]*['\"]?([A-Za-z0-9._-]+)['\"]?[ \t]*(?:#.*)?$", re.M)


def committed_name(start: Path) -> str | None:
    """The profile params.yaml names, looking up from ``start`` (a stage's working
    directory) to the directory that holds dvc.yaml; None when it names none.

    params.yaml is written by tether's composer, where the key is a top-level
    scalar: one line, read without a YAML library (this runs before numpy loads)."""
    for folder in (start, *start.parents):
        params = folder / "params.yaml"
        if params.is_file():
            return named_in(params.read_text(encoding="utf-8", errors="replace"))
        if (folder / "dvc.yaml").is_file() or (folder / ".git").exists():
            return None
    return None


def named_in(params_text: str) -> str | None:
    """The profile a params.yaml text names, None when it names none."""
    found = _PARAM_LINE.search(params_text)
    return found.group(1) if found else None


def cpu_flags() -> set[str] | None:
    """This CPU's flags from /proc/cpuinfo (Linux), None elsewhere."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    found = re.search(r"^flags\s*:(.*)$", text, re.M)
    return set(found.group(1).split()) if found else None


# numpy's feature names -> Linux's /proc/cpuinfo flags.
_LINUX_FLAGS = {
    "SSE": "sse", "SSE2": "sse2", "SSE3": "pni", "SSSE3": "ssse3", "SSE41": "sse4_1",
    "POPCNT": "popcnt", "SSE42": "sse4_2", "AVX": "avx", "F16C": "f16c", "FMA3": "fma",
    "AVX2": "avx2",
}  # fmt: skip


def _started_as(argv: list[str]) -> str | None:
    """The module a ``python [options] -m MODULE ...`` command line runs, else None."""
    rest = iter(argv[1:])
    for arg in rest:
        if arg == "-m":
            return next(rest, None)
        if arg.startswith("-m") and len(arg) > 2:
            return arg[2:]
        if arg in ("-X", "-W"):  # options whose value is the next word
            next(rest, None)
        elif arg in ("-c", "-") or arg.startswith("-c") or not arg.startswith("-"):
            return None  # a command, stdin or a script
    return None


def pin(package: str, argv: list[str] | None = None) -> None:
    """Apply the committed profile to a stage process: call it in the stage
    package's ``__init__`` (``pin(__name__)``), before numpy is imported. When this
    process was started to run a module of ``package`` (``python -m package.stage``),
    it re-executes itself once with the profile's variables (glibc reads its
    tunables only at start-up). Anything else that imports the package (a test run,
    a notebook) is left as it is, and so is a process that already has the profile
    (started by tether, or re-executed).

    A CPU that cannot run the profile is named on stderr and the stage goes on with
    this CPU's own numerics; tether verify reports such a build as not bit-exact."""
    args = argv if argv is not None else list(sys.orig_argv)
    entry = _started_as(args)
    if os.environ.get(MARKER) or entry is None or "numpy" in sys.modules:
        return
    if entry != package and not entry.startswith(f"{package}."):
        return
    try:
        chosen = profile(committed_name(Path.cwd()))
    except UnknownProfile as exc:
        raise SystemExit(f"tether numerics: {exc.message}. {exc.hint}") from None
    runs, missing = usable(chosen)
    if missing:
        sys.stderr.write(
            f"tether numerics: this CPU cannot run profile {chosen.name!r} (it lacks "
            f"{', '.join(missing)}); this stage runs with the CPU's own numerics, and "
            "its outputs will not be bit-exact with other machines\n"
        )
        os.environ[MARKER] = f"{NATIVE} (wanted {chosen.name})"
        return
    env = environ(runs, os.environ)
    if not runs.variables:
        os.environ[MARKER] = env[MARKER]
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *args[1:]], env)
