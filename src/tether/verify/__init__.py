"""``tether verify``: rebuild a commit or release in a clean worktree and prove
every output bit-exact. Callers use ``tether.verify.api``; the work is in
``reproduce``, what differs is compared in ``compare`` and explained in
``explain``."""
