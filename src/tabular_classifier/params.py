"""Reading params.yaml: each stage's ``main`` asks for the sections it needs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

PARAMS_FILE = Path("params.yaml")


def load_params(*sections: str, path: Path = PARAMS_FILE) -> dict[str, Any]:
    """Return the named top-level sections of params.yaml (all of them if none named)."""
    with path.open(encoding="utf-8") as fh:
        params = yaml.safe_load(fh) or {}
    if not sections:
        return params
    missing = [s for s in sections if s not in params]
    if missing:
        raise SystemExit(
            f"params.yaml has no section {', '.join(missing)}: recompose it with `tether run`."
        )
    return {s: params[s] for s in sections}


def pin_threads() -> None:
    """Pin native thread pools to one thread so results do not depend on core count.

    BLAS reductions and OpenMP loops can sum in a different order with a different
    number of threads, which changes the last bits of a float and so the model file.
    """
    from threadpoolctl import threadpool_limits

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    threadpool_limits(limits=1)
