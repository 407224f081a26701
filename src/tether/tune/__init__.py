"""``tether tune``: hyperparameter search whose every trial is a DVC experiment.

Optuna chooses (``study``), DVC runs and records (``trial``), the search space is
written in Hydra's sweep grammar (``space``), and the leaderboard is one value with
its renderers (``render``).
"""
