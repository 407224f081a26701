"""What every benchmark shares: the interpreter's bin directory, the environment
the timed commands run in, and compiling tether's bytecode before timing.

Compile tether's modules to bytecode before timing anything:
An installed package has its bytecode written once (pip compiles site-packages);
tether is installed editable, and where PYTHONDONTWRITEBYTECODE is set every timed
command would compile tether's sources again (about 30 ms a run) while DVC and GTO
load theirs from site-packages. Writing the .pyc files first compares like with like.
"""

from __future__ import annotations

import compileall
import os
import sys
from pathlib import Path

import tether

BIN = Path(sys.executable).parent

# The timed commands' environment: no system git config, a fixed identity for
# commits and tags, no DVC analytics.
ENV = {
    **os.environ,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@tether.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@tether.invalid",
    "DVC_NO_ANALYTICS": "1",
}


def compile_tether() -> None:
    compileall.compile_dir(str(Path(tether.__file__).parent), quiet=1)
