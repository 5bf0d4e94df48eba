"""`packbench run` (train every cell of a matrix) and `packbench status`."""

from __future__ import annotations

import os
import shlex
import signal
import threading
from pathlib import Path

import click

from axolotl_packing_bench.cli.bench_options import (
    board_file,
    check_board_or_fail,
    leaderboard_option,
    load_cells,
    matrix_option,
    only_option,
    read_results_or_fail,
    results_option,
    runs_dir_option,
)
from axolotl_packing_bench.cli.errors import UserInputError
from axolotl_packing_bench.cli.output_options import emit, format_option, output_option, to_json


def _timeout(value: str | None) -> float | None:
    if value is None:
        return None
    from axolotl_packing_bench.matrix.spec import parse_duration

    try:
        return parse_duration(value)
    except ValueError:
        raise UserInputError(f"--timeout {value!r} is not a duration; write seconds (600) or 90s, 15m, 2h.") from None


def _backend_name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from axolotl_packing_bench.running.backends.backend import backend_names

    names = backend_names()
    if value not in names:
        raise UserInputError(f"--backend {value!r} is not a known backend; choose one of {', '.join(names)}.")
    return value


@click.command()
@matrix_option
@click.option("--dry-run", is_flag=True, help="Print the plan and the command of each cell; run nothing.")
@only_option
@click.option(
    "--jobs",
    "-j",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Cells trained at once (the CPU cores are shared out between them, or each gets OMP_NUM_THREADS when set; "
    "time figures are fairest with 1).",
)
@click.option(
    "--repeats",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Train each cell N times and keep every measurement (cells of a table interleaved).",
)
@click.option(
    "--timeout",
    "timeout_text",
    default=None,
    metavar="DURATION",
    help="Per-cell timeout (600, 90s, 15m, 2h); overrides the matrix's `timeout:`.",
)
@runs_dir_option
@results_option
@leaderboard_option
@click.option("--fresh", is_flag=True, help="Run cells again even if their latest result is ok.")
@click.option(
    "--train-command",
    default=None,
    metavar="TEMPLATE",
    help="Command that trains one recipe, with {config} (and {launcher}, {python}); runs each cell in a fresh "
    "interpreter. Default: Axolotl's train entry in a warm worker (`axolotl train {config} --launcher python`).",
)
@click.option(
    "--train-entry",
    default=None,
    metavar="MODULE:FUNCTION",
    help="Python function the warm worker calls with the recipe path instead of Axolotl's train entry.",
)
@click.option(
    "--isolated-process",
    is_flag=True,
    help="Start every cell in a fresh interpreter (`python -m axolotl.cli.main train ...`) "
    "instead of forking it from a warm worker.",
)
@click.option(
    "--backend",
    default="local",
    show_default=True,
    callback=_backend_name,
    help="local: processes on this machine; ray: one Ray task per cell; slurm: job-array scripts (see --submit); "
    "or any backend registered with running.backends.backend.register_backend.",
)
@click.option(
    "--ray-address",
    default=None,
    metavar="ADDR",
    help="Ray cluster to join (default: RAY_ADDRESS, else a new local one).",
)
@click.option(
    "--retries",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Ray: run a failed cell up to N more times.",
)
@click.option("--submit", is_flag=True, help="Slurm: submit the scripts with sbatch (default: only write them).")
@click.option(
    "--validate/--no-validate",
    "check_first",
    default=True,
    show_default=True,
    envvar="PACKBENCH_VALIDATE",
    help="Run `packbench validate`'s checks first (schema, unknown keys, dataset files, local model paths, "
    "judge key) and refuse before training if any fails. Env: PACKBENCH_VALIDATE=0 to skip.",
)
def run(
    matrix_path: Path,
    dry_run: bool,
    only: tuple[str, ...],
    jobs: int,
    repeats: int,
    timeout_text: str | None,
    runs_dir: Path,
    results_path: Path,
    leaderboard_path: Path,
    fresh: bool,
    train_command: str | None,
    train_entry: str | None,
    isolated_process: bool,
    backend: str,
    ray_address: str | None,
    retries: int,
    submit: bool,
    check_first: bool,
) -> None:
    """Train every cell of a matrix with Axolotl, one process per cell.

    Each cell runs in runs/<matrix>/<cell_id>/ (recipe.yml, train.log,
    output/). Cells whose latest result is ok are skipped, so a rerun resumes
    where the last one stopped. A crash or timeout is recorded as a failed
    cell and the matrix goes on; the leaderboard is re-rendered after every
    cell. Ctrl-C kills the running cells, keeps every finished result, and
    exits with status 130; killing packbench any other way (even kill -9)
    also ends its cells. Exit status 0 only when every cell succeeded.

    Locally, each cell is forked from a warm worker that imported Axolotl
    once, and runs `axolotl train <recipe> --launcher python` in process;
    --isolated-process, --train-command or a launcher other than python
    starts a fresh interpreter per cell instead, as does a cell of several
    training processes (`num_processes: N` in the matrix: `axolotl train
    <recipe> --launcher torchrun -- --standalone --nproc_per_node N`).

    Training runs offline (HF_HUB_OFFLINE=1) unless your environment sets
    HF_HUB_OFFLINE itself, e.g. HF_HUB_OFFLINE=0 to download hub models.

    --backend ray runs each cell as a Ray task asking for the cell's CPUs and
    GPUs (the matrix's `resources:` section); this process records every
    result. --backend slurm writes one job-array script per resource shape
    under runs/<matrix>/slurm/ (printed with --dry-run, submitted with
    --submit); each array task records its own result in the shared results
    file. Every backend runs the matrix's eval: and probes: sections after a
    cell trains. `packbench status` shows the cells' states for any of them.

    Before anything trains, the cells pass `packbench validate`'s checks
    (exit status 2 with the same sentences otherwise); --no-validate skips them.
    """
    from axolotl_packing_bench.report.leaderboard import render_to
    from axolotl_packing_bench.running import runner
    from axolotl_packing_bench.running.backends.backend import BackendError, BackendOptions, describe, make_backend
    from axolotl_packing_bench.running.driver import Recorder, drive
    from axolotl_packing_bench.running.follow_up import follow_up_for

    matrix, cells = load_cells(matrix_path, only)
    board = board_file(leaderboard_path)
    if board is None and backend == "slurm":
        raise UserInputError(
            "--leaderboard - prints the board when the run ends, but slurm's tasks record on their own; "
            "give --leaderboard a file."
        )
    timeout = _timeout(timeout_text)
    try:
        command = runner.parse_train_command(train_command) if train_command else None
    except ValueError:
        raise UserInputError(
            "--train-command must contain {config}, e.g. 'axolotl train {config} --launcher python'."
        ) from None
    if train_entry is not None:
        if train_command:
            raise UserInputError("--train-entry and --train-command exclude each other; pass one of them.")
        if not _is_entry(train_entry):
            raise UserInputError(f"--train-entry {train_entry!r} is not of the form module:function.")
    if check_first:
        _validate_first(matrix_path, matrix, cells, local=backend == "local")
    results = read_results_or_fail(results_path)
    check_board_or_fail(board)
    if not dry_run:
        from axolotl_packing_bench.core.extras import require
        from axolotl_packing_bench.eval.section import judge_key_problem

        require(*_extras_needed(backend, command, train_entry, matrix.sections.get("eval")), command="run")

        key_problem = judge_key_problem(matrix.sections.get("eval"))
        if key_problem is not None:  # said before any cell trains, not in every row after
            raise UserInputError(f"{matrix_path}: {key_problem}.")
    if not dry_run:  # held until the command ends: no other run trains into this results file meanwhile
        holder = click.get_current_context().with_resource(runner.results_lock(results_path))
        if holder is not None:
            raise UserInputError(
                f"another `packbench run` (pid {holder}) is recording into {results_path}; wait for it to finish, "
                "or give this run its own results file with --results (and --leaderboard and --runs-dir)."
            )
        results = read_results_or_fail(results_path)  # read again under the lock: what is done is now settled
    plans = runner.plan_cells(cells, results, runs_dir=runs_dir, fresh=fresh, repeats=repeats)
    to_run = [plan for plan in plans if not plan.skip]
    follow_up = follow_up_for(matrix, plans)
    stop = threading.Event()
    options = BackendOptions(
        matrix=matrix,
        runs_dir=runs_dir,
        results_path=results_path,
        leaderboard_path=board,
        jobs=jobs,
        command=command,
        train_entry=train_entry,
        isolated=isolated_process,
        timeout=timeout,
        follow_up=follow_up,
        extra={
            "ray_address": ray_address,
            "retries": retries,
            "submit": submit,
            "dry_run": dry_run,
            "train_command_text": train_command,
            "fresh": fresh,
            "matrix_path": matrix_path,
            "repeats": repeats,
        },
        stop=stop,
    )
    try:
        chosen = make_backend(backend, options)
    except ValueError as error:  # a backend's own check of the matrix (e.g. its resources: section)
        raise UserInputError(f"{matrix_path}: {error}.") from None
    if dry_run:
        text = describe(chosen, plans)
        if text is None:
            _print_plan(matrix.name, plans, command, timeout, runner, isolated=isolated_process)
        else:
            click.echo(text)
        return

    with runner.matrix_lock(runs_dir, matrix.name) as locked:
        if not locked:  # it records into another results file (the results lock above says so): its runs are not ours
            raise UserInputError(
                f"another `packbench run` of matrix {matrix.name} is using {runs_dir / matrix.name} "
                f"for another results file; "
                f"wait for it to finish, or pass another --runs-dir so each results file keeps its own runs."
            )
        taken = runner.claim_run_dirs(plans, results_path)
        if taken:
            run_dir, owner = taken[0]
            raise UserInputError(
                f"{_shown(run_dir)} holds the runs of results file {owner}, not {results_path}; "
                f"pass another --runs-dir to keep both experiments' runs ({len(taken)} cell folder(s) are taken), "
                f"or --results {owner} to resume that one."
            )
        progress = runner.Progress(total=len(to_run), jobs=jobs)
        if backend == "local":
            _build_embedded_bases(to_run, progress)
        if len(to_run) < len(plans):
            progress.line(
                f"matrix {matrix.name}: {len(plans) - len(to_run)} of {len(plans)} cells already done (skipped); "
                f"running {len(to_run)}"
            )
        elif to_run:
            at_once = f"{jobs} at a time" if chosen.slots else f"as {backend} places them"
            progress.line(f"matrix {matrix.name}: running {len(to_run)} cells, {at_once}")

        def announce(signum: int) -> None:
            progress.line("interrupted: stopping the running cells (finished results are kept)")

        with runner.stop_on_signals(stop, announce) as caught:
            try:
                summary, handed_off = drive(
                    plans,
                    chosen,
                    record=Recorder(results_path, board),
                    follow_up=follow_up,
                    stop=stop,
                    progress=progress,
                    claims_in=results_path,
                )
            except BackendError as error:
                raise UserInputError(str(error)) from None
        if not to_run and results_path.exists() and board is not None:  # nothing ran: keep the leaderboard current
            render_to(results_path, board)

    if handed_off:
        if summary.skipped:
            click.echo(f"{summary.skipped} cells already ok were left out")
        click.echo(
            f"{handed_off} cells handed to {backend}; "
            f"follow them with: packbench status --matrix {matrix_path} --results {results_path}"
        )
        return
    failed = [result for result in summary.results if not result.ok]
    ok = len(summary.results) - len(failed)
    progress.line(
        f"matrix {matrix.name}: {ok} ok, {len(failed)} failed, {summary.skipped} skipped"
        + (f", {summary.not_run} not run (interrupted)" if summary.interrupted else "")
        + f"; results: {results_path}"
        + (f", leaderboard: {board}" if board is not None else "")
    )
    _print_answer(results_path, matrix.name, board is None)
    if summary.interrupted:
        signum = caught[0] if caught else signal.SIGINT
        raise SystemExit(128 + int(signum))
    if failed:
        raise SystemExit(1)


def _validate_first(matrix_path: Path, matrix, cells, *, local: bool = True) -> None:
    """Refuse with `packbench validate`'s sentences when the cells to run have any problem."""
    from axolotl_packing_bench.cli.bench_options import ProblemsError
    from axolotl_packing_bench.cli.validation import matrix_problems, stderr_lines

    problems = matrix_problems(matrix, cells, progress=stderr_lines(), local=local)
    if problems:
        raise ProblemsError(problems, f"{matrix_path} (nothing trained; fix them, or pass --no-validate)")


def _extras_needed(backend: str, command, train_entry: str | None, eval_spec) -> list[str]:
    """Modules this run imports somewhere (a worker, a follow-up).

    Checked up front, so a missing extra is one sentence.
    """
    modules = []
    if backend == "ray":
        modules.append("ray")
    if command is None and train_entry is None:  # Axolotl's own train entry
        modules += ["axolotl", "torch", "transformers"]
    if hasattr(eval_spec, "get") and eval_spec:
        if eval_spec.get("tasks") != []:
            modules.append("lm_eval")
        if eval_spec.get("judge"):
            modules.append("openai")
    return modules


def _shown(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def _print_answer(results_path: Path, matrix_name: str, whole_board: bool) -> None:
    """The verdict of each of the matrix's tables on stdout (and the whole board for `--leaderboard -`)."""
    from axolotl_packing_bench.report.leaderboard import render_leaderboard
    from axolotl_packing_bench.report.verdict import verdict_lines

    results = read_results_or_fail(results_path)
    lines = verdict_lines(results, matrix_name)
    if lines:
        click.echo("verdict (against padding; the board has every row):")
        for line in lines:
            click.echo(f"  {line}")
    if whole_board:
        click.echo(render_leaderboard(results, source=results_path.name), nl=False)


def _build_embedded_bases(plans, progress) -> None:
    """Pre-train the embedded bases the cells need, side by side, before any cell waits on one."""
    from axolotl_packing_bench.assets import MODELS, ensure_models, unbuilt_bases
    from axolotl_packing_bench.assets.uri import parse_asset_uri

    uris = [parse_asset_uri(plan.cell.config.get("base_model")) for plan in plans]
    names = sorted({uri.name for uri in uris if uri is not None and uri.kind == "model"})
    missing = unbuilt_bases(
        [name for name in names if name in MODELS]
    )  # an unknown name fails in its cell, with the valid ones
    if missing:
        progress.line(f"building the pre-trained base(s) {', '.join(missing)} once (4-25 min each on 2 CPU cores)")
        ensure_models(missing)


def _is_entry(text: str) -> bool:
    module, _, name = text.partition(":")
    return bool(module) and name.isidentifier() and all(part.isidentifier() for part in module.split("."))


def _print_plan(name: str, plans, command, timeout: float | None, runner, *, isolated: bool) -> None:
    to_run = [plan for plan in plans if not plan.skip]
    cells = len({plan.cell.cell_id for plan in plans})
    what = (
        f"{cells} cells"
        if cells == len(plans)
        else f"{len(plans)} runs ({cells} cells x {len(plans) // max(1, cells)} repeats)"
    )
    click.echo(f"matrix {name}: {what}, {len(to_run)} to run, {len(plans) - len(to_run)} already done")
    for plan in plans:
        argv = runner.train_command(
            command or runner.DEFAULT_TRAIN_COMMAND,
            plan.run_dir / "recipe.yml",
            plan.cell.launcher,
            plan.cell.num_processes,
        )
        warm = command is None and not isolated and plan.cell.launcher == "python" and plan.cell.num_processes == 1
        if warm:
            argv = ["axolotl", "train", str(plan.run_dir / "recipe.yml"), "--launcher", "python"]
        cell_timeout = timeout if timeout is not None else plan.cell.timeout
        limit = f" (timeout {cell_timeout:g} s)" if cell_timeout else ""
        click.echo(f"{'skip' if plan.skip else 'run '} {plan.label}{limit}")
        if not plan.skip:
            click.echo(f"     {shlex.join(argv)}" + ("  # forked from the warm worker" if warm else ""))


@click.command()
@matrix_option
@runs_dir_option
@results_option
@format_option
@output_option
def status(matrix_path: Path, runs_dir: Path, results_path: Path, output_format: str, output_path: Path | None) -> None:
    """Show each cell of a matrix: ok, failed, timeout, running or pending (--format json: with its figures)."""
    from axolotl_packing_bench.matrix.recipe import cell_run_dir
    from axolotl_packing_bench.results.store import latest_per_cell

    matrix, cells = load_cells(matrix_path)
    results = read_results_or_fail(results_path)
    latest = latest_per_cell(results)
    if output_format == "json":
        from axolotl_packing_bench.report.leaderboard_json import status_to_dict

        states = []
        for cell in cells:
            result = latest.get((matrix.name, cell.cell_id))
            state = "running" if _is_running(cell_run_dir(runs_dir, cell)) else result.status if result else "pending"
            runs = [run for run in results if run.matrix == matrix.name and run.cell_id == cell.cell_id]
            states.append((cell.cell_id, state, runs))
        emit(to_json(status_to_dict(matrix.name, states)), output_path)
        return
    if output_path is not None:
        raise UserInputError("--output is for --format json; leave it out to print the status.")
    counts: dict[str, int] = {}
    lines = []
    for cell in cells:
        result = latest.get((matrix.name, cell.cell_id))
        state = result.status if result is not None else "pending"
        if _is_running(cell_run_dir(runs_dir, cell)):
            state = "running"
        counts[state] = counts.get(state, 0) + 1
        detail = ""
        if state == "ok" and result is not None:
            runtime = result.metric("training", "runtime_s")
            detail = f"train {runtime:.1f} s" if isinstance(runtime, (int, float)) else ""
        elif result is not None and state in ("failed", "timeout"):
            detail = result.reason or ""
        lines.append(f"{state:<8} {cell.cell_id}" + (f"  {detail}" if detail else ""))
    order = ("ok", "failed", "timeout", "running", "pending")
    summary = ", ".join(f"{counts[name]} {name}" for name in order if counts.get(name))
    click.echo(f"matrix {matrix.name}: {len(cells)} cells: {summary}")
    for line in lines:
        click.echo(line)


def _is_running(run_dir: Path) -> bool:
    """Whether a `packbench run` has a live training process in `run_dir`."""
    from axolotl_packing_bench.running.runner import RUNNING_MARKER

    try:
        pids = [int(part) for part in (run_dir / RUNNING_MARKER).read_text().split()]
    except (OSError, ValueError):
        return False
    for pid in pids[-1:]:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return False
