"""The release API: write the model registry (``actions``: release, promote,
rollback, unassign, deregister, each taking the ``Names`` it writes, checked once)
and publish it (``push``: every release's tags and data).

    release(root, Names("cancer-classifier"), bump="minor")        -> Released
    promote(root, Names("cancer-classifier", "v1.0.0", "prod"))     -> StageChange
    push(root)                                                      -> Pushed
"""

from __future__ import annotations

from tether.release.actions import (
    Deregistered,
    Names,
    Released,
    StageChange,
    deregister,
    promote,
    release,
    rollback,
    unassign,
)
from tether.release.push import Pushed, push

__all__ = [
    "Deregistered",
    "Names",
    "Pushed",
    "Released",
    "StageChange",
    "deregister",
    "promote",
    "push",
    "release",
    "rollback",
    "unassign",
]
