"""The pipeline API: compose params.yaml and reproduce the pipeline (``run``),
prove the workspace is what Git holds (``check``), and write a file whole or not
at all (``write_bytes``).

    run(root, ["model.params.C=0.5"])  -> RunResult
    check(root)                        -> CheckResult
"""

from __future__ import annotations

from tether.pipeline.atomic import write_bytes
from tether.pipeline.check import check
from tether.pipeline.run import StageEvent, run

__all__ = ["StageEvent", "check", "run", "write_bytes"]
