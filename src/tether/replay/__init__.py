"""Environment replay: every release records its whole environment as a lock
(``lock``); ``tether verify REF --env`` rebuilds it with uv (``install``), caches it
by the lock's hash (``envs``), and verifies inside it (``api``)."""
