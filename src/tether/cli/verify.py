"""``tether verify``: rebuild a commit or release from scratch and prove it bit-exact."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from tether.cli import output
from tether.cli.app import app, repo_root
from tether.cli.output import print_json
from tether.errors import CheckFailed, Interrupted, NotBitExact, UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from tether.replay.api import ReplayOptions, ReplayResult
    from tether.verify.api import VerifyOptions, VerifyResult


def _progress_console() -> Console:
    """A console on a copy of the stderr descriptor: while stages run, tether points
    descriptors 1 and 2 at the stage log, and progress must still reach the user."""
    return output.make_console(
        file=os.fdopen(os.dup(2), "w", encoding="utf-8"), stderr=True, highlight=False
    )


# Environment replay (tether.replay): the flags of `tether verify --env`.
ENV_OPTION = typer.Option(
    False,
    "--env",
    help="Run the stages in the environment the release recorded, or the commit's uv.lock (replayed).",
)
PYTHON_OPTION = typer.Option(
    None, "--python", metavar="PATH", help="With --env: the interpreter to replay with."
)
PARTIAL_OPTION = typer.Option(
    False, "--partial", help="With --env: replay an older release's partial record."
)
FIND_LINKS_OPTION = typer.Option(
    None, "--find-links", metavar="DIR|URL", help="With --env: where uv finds archives."
)
INDEX_URL_OPTION = typer.Option(
    None, "--index-url", metavar="URL", help="With --env: the package index uv installs from."
)
NO_INDEX_OPTION = typer.Option(
    False, "--no-index", help="With --env: use only --find-links, no package index."
)

# Portability: the stages on an emulated CPU (tether.backends.emulator).
CPU_OPTION = typer.Option(
    None,
    "--cpu",
    metavar="MODEL",
    help="Run the stages on this emulated CPU (qemu-user's models: Nehalem, Haswell...).",
)


@app.command(
    "verify",
    epilog=(
        "Examples:\n\n"
        "  tether verify v1.2.0\n\n"
        "  tether verify cancer-classifier@v1.2.0 --from-remote\n\n"
        "  tether verify HEAD~3 --tolerance roc_auc=1e-6 --json\n\n"
        "  tether verify cancer-classifier@v1.2.0 --env --find-links ./wheelhouse\n\n"
        "  tether verify cancer-classifier#prod --cpu Nehalem"
    ),
)
def verify_command(
    ref: str = typer.Argument(
        ..., metavar="REF", help="Commit, branch, tag or registry reference (NAME@vX.Y.Z)."
    ),
    from_remote: bool = typer.Option(
        False, "--from-remote", help="Take data only from the DVC remote, as on a fresh machine."
    ),
    remote: str = typer.Option(
        None,
        "--remote",
        "-r",
        help="The DVC remote to take data from (implies --from-remote; default: the default remote).",
    ),
    tolerance: list[str] = typer.Option(
        None,
        "--tolerance",
        metavar="METRIC=ABS",
        help=(
            "Accept a metric within ABS of the recorded value (repeatable). METRIC is a "
            "name REF recorded (test.acc) or FILE:METRIC for one metrics file."
        ),
    ),
    keep: bool = typer.Option(False, "--keep", help="Keep the temporary worktree for inspection."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    repo: Path = typer.Option(Path("."), "--repo", "-C", help="Verify in this repository."),
    env: bool = ENV_OPTION,
    python: str = PYTHON_OPTION,
    partial: bool = PARTIAL_OPTION,
    find_links: list[str] = FIND_LINKS_OPTION,
    index_url: str = INDEX_URL_OPTION,
    no_index: bool = NO_INDEX_OPTION,
    cpu: str = CPU_OPTION,
) -> None:
    """Rebuild REF in a clean temporary worktree and prove every output bit-exact.

    Every stage runs for real (no run-cache); every output is hashed from its bytes
    and compared with dvc.lock at REF and the release manifest. Exits 0 when all are
    bit-exact (or, for metrics named in --tolerance, within tolerance), 1 when
    something differs, 2 for an unknown REF, 3 when data cannot be fetched, 5 when
    bits cannot match here (another architecture, or a CPU that cannot run the
    release's numerics profile) and the rebuild was proved equivalent instead: its
    model's predictions and its metrics within the release's tolerances. What
    differs is named by layer: packages, Python, platform, numerics, or none (then
    the stage is run twice to prove it nondeterministic). The worktree is removed
    afterwards, also on Ctrl-C. --cpu MODEL: the stages on that CPU, emulated by
    qemu-user; --env: in the environment the release recorded (`tether env REF`)."""
    from tether.verify.api import VerifyOptions, parse_tolerance

    tolerances = tuple(parse_tolerance(t) for t in tolerance or [])
    options = VerifyOptions(from_remote or remote is not None, remote, tolerances, keep, cpu)
    root = repo_root(repo)
    replay = _replay_options(ref, env, python, partial, find_links, index_url, no_index)
    progress_console = _progress_console()
    try:
        done = _run_with_progress(progress_console, root, ref, options, replay)
    finally:
        progress_console.file.close()
    _report(done, as_json)


def _report(done: VerifyResult | ReplayResult, as_json: bool) -> None:
    """Print verify's report (headed by what was replayed, after --env); a result
    that is not ok ends in CheckFailed (exit 1)."""
    from tether.replay import render as replay_render
    from tether.replay.api import ReplayResult
    from tether.verify import render

    result = done.verify if isinstance(done, ReplayResult) else done
    if as_json:
        print_json(done.to_dict() if isinstance(done, ReplayResult) else render.as_json(result))
    else:
        if isinstance(done, ReplayResult):
            for line in replay_render.replay_header(done):
                output.out(line)
        render.terminal(result, output.console())
    if result.equivalent:
        raise NotBitExact(*render.failure(result))
    if not result.ok:
        raise CheckFailed(*render.failure(result))


def _replay_options(
    ref: str,
    env: bool,
    python: str | None,
    partial: bool,
    find_links: list[str] | None,
    index_url: str | None,
    no_index: bool,
) -> ReplayOptions | None:
    """How ``tether.replay.api.verify`` rebuilds the environment, or None without --env."""
    if not env:
        if python or partial or find_links or index_url or no_index:
            raise UsageError(
                "--python, --partial, --find-links, --index-url and --no-index only apply with --env",
                f"Replay the release's environment: tether verify {ref} --env ...",
            )
        return None
    from tether.replay.api import IndexOptions, ReplayOptions

    index = IndexOptions(tuple(find_links or ()), index_url, no_index)
    return ReplayOptions(python=python, partial=partial, index=index)


def _run_with_progress(
    console: Console,
    root: Path,
    ref: str,
    options: VerifyOptions,
    replay: ReplayOptions | None = None,
) -> VerifyResult | ReplayResult:
    from tether.verify import render
    from tether.verify.api import verify

    with render.progress_bar(console) as progress:
        on_event = render.ProgressView(progress, console, ref)
        try:
            if replay is not None:
                from tether.replay import api

                return api.verify(root, ref, options, replay, on_event=on_event)
            return verify(root, ref, options, on_event=on_event)
        except KeyboardInterrupt:
            # Say what became of the worktree; main turns this into exit 130.
            progress.stop()
            what = "kept" if options.keep else "removed"
            raise Interrupted(f"interrupted; the temporary worktree was {what}") from None
