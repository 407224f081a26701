"""Metrics and params across revisions: what DVC counts at a revision (``collect``),
the diff value (``diff``), CI gates (``gates``), many revisions at once
(``history``) and their renderers (``render``). ``api`` is the entry point."""
