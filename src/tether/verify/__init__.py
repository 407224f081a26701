"""``tether verify``: rebuild a commit or release in a clean worktree and prove
every output bit-exact (see ``tether.verify.reproduce``)."""

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
