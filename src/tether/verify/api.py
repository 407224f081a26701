"""The verify API: rebuild a commit or release in a clean worktree and prove every
output bit-exact (``tether.verify.reproduce``), or say by layer why not.

    verify(root, "NAME@v1.0.0", VerifyOptions(from_remote=True))  -> VerifyResult
    parse_tolerance("test.acc=1e-6")                              -> Tolerance
"""

from __future__ import annotations

from tether.verify.compare import Tolerance, parse_tolerance
from tether.verify.reproduce import Event, OutputComparison, VerifyOptions, VerifyResult, verify

__all__ = [
    "Event",
    "OutputComparison",
    "Tolerance",
    "VerifyOptions",
    "VerifyResult",
    "parse_tolerance",
    "verify",
]
