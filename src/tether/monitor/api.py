"""The monitor API: compare new data with what a release was trained on
(``drift``), score its model on a labelled batch (``perf``), and store a release's
reference profile (``store_profile``, the hook ``tether release`` passes in).

    drift(root, "cancer-classifier#prod", Path("batch.csv"))  -> DriftReport
    perf(root, "cancer-classifier#prod", Path("labelled.csv")) -> PerfReport
"""

from __future__ import annotations

from tether.monitor.drift import DriftReport, drift
from tether.monitor.perf import PerfReport, perf
from tether.monitor.reference import store_profile

__all__ = ["DriftReport", "PerfReport", "drift", "perf", "store_profile"]
