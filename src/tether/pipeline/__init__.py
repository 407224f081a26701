"""Composing params.yaml from conf/ (``compose``), recording the overrides
(``overrides``), reproducing the pipeline (``run``) and checking that the workspace
is exactly what Git holds (``check``)."""
