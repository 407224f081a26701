"""What in the machine can change a result: interpreter, packages, platform and
thread counts. ``tether release`` records it in the manifest; ``tether verify``
captures it again and reports what differs."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any

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
