"""``tether tune``, ``tether tune show`` and ``tether tune apply``.

Optuna, Hydra and DVC are imported inside the commands: ``tether --help`` never
loads them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

from tether.cli.app import app, repo_root
from tether.cli.output import console, err, error, out, print_json, print_table
from tether.errors import EXIT_INTERRUPTED

if TYPE_CHECKING:
    from tether.tune.api import Progress


class _SweepByDefault(TyperGroup):
    """``tether tune SWEEP...`` is ``tether tune run SWEEP...``: anything that is
    not a subcommand starts a sweep."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


tune_app = typer.Typer(
    cls=_SweepByDefault,
    help=(
        "Hyperparameter search: every trial is a DVC experiment.\n\n"
        "tether tune SWEEP... runs a sweep (same as `tether tune run`); "
        "`show` prints the leaderboard; `apply` puts a trial in the work tree."
    ),
    epilog=(
        "Examples:\n\n"
        "  tether tune model.params.C=0.1,1,10 --metric f1 --jobs 2\n\n"
        "  tether tune show --md\n\n"
        "  tether tune apply best"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
app.add_typer(tune_app, name="tune")

STUDY = typer.Option(None, "--study", help="The study's name (default: derived from the sweep).")
STORAGE = typer.Option(
    None, "--storage", help="Optuna storage URL (default: sqlite in .tether/tune.db)."
)
REPO = typer.Option(Path("."), "--repo", "-C", help="Run in this repository.")


class _Line:
    """One rich status line: trials done, running, failed, and the best so far."""

    def __init__(self, metric: str) -> None:
        self.metric = metric
        self.status: Any = None

    def __call__(self, progress: Progress) -> None:
        total = f"/{progress.total}" if progress.total else ""
        best = "-" if progress.best is None else f"{progress.best:.6g}"
        text = (
            f"tune: {progress.done}{total} done, {progress.running} running, "
            f"{progress.failed} failed; best {self.metric} {best}"
        )
        if progress.event == "failed":
            err(f"trial {progress.number} failed: {progress.reason}")
        stderr = console(stderr=True)
        if not stderr.is_terminal:
            # a log (CI, a pipe) gets no live line: one line per finished trial
            if progress.event != "start":
                err(text)
            return
        if self.status is None:
            self.status = stderr.status(text)
            self.status.start()
        else:
            self.status.update(text)

    def stop(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None


@tune_app.command(
    "run",
    epilog=(
        "Examples:\n\n"
        "  tether tune model.params.C=range(0.1,1,0.3) model.params.class_weight=null,balanced"
        " --metric f1 --jobs 2\n\n"
        "  tether tune 'model.params.C=tag(log, interval(0.001, 10))' --sampler tpe"
        " --trials 20 --metric f1 --seed 7\n\n"
        "  tether tune ... --study big --storage postgresql://user@db/optuna   # one worker\n\n"
        "  tether tune run model.params.C=0.1,1   # `run` may be left out"
    ),
)
def run_command(
    sweep: list[str] = typer.Argument(..., metavar="SWEEP...", help="Hydra sweep overrides."),
    sampler: str = typer.Option("grid", "--sampler", help="grid, random or tpe."),
    trials: int = typer.Option(None, "--trials", help="How many trials (random, tpe)."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Trials run at once on this machine."),
    metric: str = typer.Option(None, "--metric", help="The metric to optimise (key or PATH:KEY)."),
    minimize: bool = typer.Option(False, "--minimize", help="Lower is better."),
    seed: int = typer.Option(0, "--seed", help="Seed of the sampler."),
    study: str = STUDY,
    storage: str = STORAGE,
    repo: Path = REPO,
) -> None:
    """Search hyperparameters: each trial runs the pipeline in a worktree of its own
    and is saved as a DVC experiment (`dvc exp show` lists it).

    Every trial's overrides are checked first, as `tether run` checks them; a bad
    sweep writes nothing. Running the same command again resumes the study.
    """
    from tether.tune import render
    from tether.tune.api import Options, tune

    options = Options(
        sweep=tuple(sweep),
        sampler=sampler,
        trials=trials,
        jobs=jobs,
        metric=metric,
        minimize=minimize,
        seed=seed,
        study=study,
        storage=storage,
    )
    line = _Line(metric or "metric")
    try:
        result = tune(repo_root(repo), options, on_progress=line)
    except KeyboardInterrupt:
        # typer turns KeyboardInterrupt into a silent exit 130; say what happened.
        line.stop()
        error(
            "interrupted; the running trials were stopped and their worktrees removed",
            "Run the same command again to resume: they run again, finished trials do not.",
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        line.stop()
    for text in render.summary(result.board, result.ran, result.failed, result.earlier):
        out(text)


@tune_app.command(
    "show",
    epilog="Examples:\n\n  tether tune show\n\n  tether tune show --study big --sort accuracy --md",
)
def show_command(
    study: str = STUDY,
    storage: str = STORAGE,
    sort: str = typer.Option(None, "--sort", help="Sort by this metric (default: the study's)."),
    md: bool = typer.Option(False, "--md", help="GitHub Markdown."),
    as_json: bool = typer.Option(False, "--json", help="JSON."),
    as_csv: bool = typer.Option(False, "--csv", help="CSV."),
    repo: Path = REPO,
) -> None:
    """The leaderboard: one row per trial with its overrides, metrics, state and duration."""
    from tether.tune import render
    from tether.tune.api import leaderboard, sort_rows

    if sum([md, as_json, as_csv]) > 1:
        raise typer.BadParameter("choose one of --md, --json, --csv")
    board = leaderboard(repo_root(repo), study, storage)
    rows = sort_rows(board, sort)
    if as_json:
        print_json(render.to_json(board, rows))
    elif md:
        typer.echo(render.markdown(board, rows), nl=False)
    elif as_csv:
        typer.echo(render.to_csv(board, rows), nl=False)
    else:
        print_table(render.table(board, rows))


@tune_app.command(
    "apply",
    epilog="Examples:\n\n  tether tune apply best\n\n  tether tune apply 7 --study big",
)
def apply_command(
    trial: str = typer.Argument(
        ..., metavar="TRIAL|best", help="Trial number, experiment, or best."
    ),
    study: str = STUDY,
    storage: str = STORAGE,
    repo: Path = REPO,
) -> None:
    """Put a trial in the work tree: its overrides, params.yaml, dvc.lock and metrics,
    and its outputs from the DVC cache (nothing is re-run)."""
    from tether.tune.api import apply
    from tether.tune.render import against_baseline

    board, row = apply(repo_root(repo), trial, study, storage)
    out(f"applied trial {row.number} ({row.experiment}): {' '.join(row.overrides)}")
    verdict = against_baseline(board, row)
    if verdict is not None:
        out(verdict)
    out("Next: `tether check`, then commit what it lists.")


@tune_app.command(
    "_worker",
    hidden=True,
    epilog="Example (started by tether tune in a trial worktree):\n\n  tether tune _worker ...",
)
def worker_command(
    baseline: str = typer.Option(..., "--baseline", help="The commit every trial starts from."),
    metric: str = typer.Option(..., "--metric", help="The metric to read."),
    log: Path = typer.Option(..., "--log", help="Where each trial's output goes."),
) -> None:
    """Run the trials read on stdin in the current worktree, one after another, and
    answer each with its outcome on stdout (started by `tether tune`)."""
    from tether.tune.api import serve_trials

    serve_trials(Path.cwd(), baseline, metric, log)
