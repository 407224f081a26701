"""Stage commands on an emulated CPU: Debian's qemu-user (``qemu-x86_64 -cpu MODEL``).

qemu-user runs one program on a CPU model of its own (Nehalem, Haswell...), CPUID
included, so BLAS, numpy and glibc choose their code as they would on that CPU.
It does not follow ``execve``: a program the emulated one starts runs natively.
So the stages' interpreter is replaced, first on PATH, by a ``python`` that starts
the real one under the emulator, and DVC itself (which starts the stage commands
through a shell) stays native.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

from tether.errors import UsageError

QEMU = "qemu-x86_64"
_INSTALL = "Install qemu-user (Debian: `apt-get install qemu-user`), then run again."


def models() -> list[str]:
    """The CPU models this qemu emulates (``qemu-x86_64 -cpu help``)."""
    program = shutil.which(QEMU)
    if program is None:
        raise UsageError(f"{QEMU} is not installed: it is needed to emulate another CPU", _INSTALL)
    done = subprocess.run(
        [program, "-cpu", "help"], capture_output=True, text=True, check=False, timeout=30
    )
    found = []
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "x86":
            found.append(parts[1])
    return found


def python_wrapper(python: Path, model: str, folder: Path) -> Path:
    """A ``bin`` folder in ``folder`` whose ``python`` and ``python3`` run ``python``
    on the emulated CPU ``model``; returns the folder. Raises UsageError for a model
    qemu does not know, naming the closest."""
    known = models()
    if model not in known:
        close = [m for m in known if m.lower().startswith(model.lower()[:4])][:6]
        raise UsageError(
            f"qemu does not emulate a CPU called {model!r}",
            f"Choose one of `{QEMU} -cpu help`" + (f", e.g. {', '.join(close)}." if close else "."),
        )
    program = shutil.which(QEMU)
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = f'#!/bin/sh\nexec {shlex.join([str(program), "-cpu", model, str(python)])} "$@"\n'
    for name in ("python", "python3"):
        target = bin_dir / name
        target.write_text(script, encoding="utf-8")
        target.chmod(0o755)
    return bin_dir
