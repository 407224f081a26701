"""Compile tether's modules to bytecode before timing anything.

An installed package has its bytecode written once (pip compiles site-packages);
tether is installed editable, and where PYTHONDONTWRITEBYTECODE is set every timed
command would compile tether's sources again (about 30 ms a run) while DVC and GTO
load theirs from site-packages. Writing the .pyc files first compares like with like.
"""

from __future__ import annotations

import compileall
from pathlib import Path

import tether


def compile_tether() -> None:
    compileall.compile_dir(str(Path(tether.__file__).parent), quiet=1)
