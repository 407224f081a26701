"""The doors to the outside: git (``tether.backends.git``), DVC (``tether.backends.dvc``)
and content hashing (``tether.backends.hashing``). Only these modules import GitPython
or DVC; ruff's banned-api rule in pyproject.toml keeps it that way."""
