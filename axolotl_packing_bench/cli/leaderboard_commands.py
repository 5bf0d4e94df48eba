"""`packbench record`, `packbench leaderboard` and `packbench compare`."""

from __future__ import annotations

from pathlib import Path

import click

from axolotl_packing_bench.cli.bench_options import (
    board_file,
    check_board_or_fail,
    leaderboard_option,
    read_results_or_fail,
    results_option,
)
from axolotl_packing_bench.cli.errors import UserInputError


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--matrix", "matrix_name", default="hand", show_default=True, help="Matrix name the run is listed under.")
@click.option("--model-name", "--model", "model_name", default=None,
              help="Model label (default: the embedded model's name, else the last part of the model path).")
@click.option("--model-size", default=None,
              help="Model size label, e.g. 8B (default: the embedded model's, else its parameter count).")
@click.option("--dataset-name", "--dataset", "dataset_name", default=None,
              help="Dataset label (default: the embedded dataset's name, else the stem of the first dataset file).")
@click.option("--dataset-size", default=None,
              help="Dataset size label, e.g. 69K (default: the embedded dataset's, else its sample count).")
@results_option
@leaderboard_option
def record(
    run_dir: Path,
    matrix_name: str,
    model_name: str | None,
    model_size: str | None,
    dataset_name: str | None,
    dataset_size: str | None,
    results_path: Path,
    leaderboard_path: Path,
) -> None:
    """Add a run trained by hand with the plugin to the results.

    RUN_DIR is the run's output_dir (holding packbench_metrics.json).
    Recording the same run again is harmless: the results keep one row per
    run id (the latest). A run of the embedded models and datasets gets the
    labels a matrix gives them (tiny-8b of size 8B, synth-100 of size 100); give the
    labels of your matrix with --model-name/--model-size/--dataset-name/
    --dataset-size and --matrix to land in its table.
    """
    from axolotl_packing_bench.results.record import RecordError, result_from_run_dir
    from axolotl_packing_bench.running.runner import record_result

    try:
        result = result_from_run_dir(run_dir, matrix=matrix_name, model=model_name, dataset=dataset_name,
                                     model_size=model_size, dataset_size=dataset_size)
    except RecordError as error:
        raise UserInputError(str(error).rstrip(".") + ".") from None
    read_results_or_fail(results_path)  # a directory or another kind of file here is a user error, said plainly
    check_board_or_fail(board_file(leaderboard_path))  # checked before the append, so a swapped pair writes nothing
    record_result(result, results_path, board_file(leaderboard_path))
    click.echo(f"recorded {result.status} run {result.run_id} as cell {result.cell_id} (matrix {result.matrix}) in {results_path}")
    if board_file(leaderboard_path) is None:
        from axolotl_packing_bench.report.leaderboard import render_leaderboard

        click.echo(render_leaderboard(read_results_or_fail(results_path), source=results_path.name), nl=False)


@click.command()
@results_option
@leaderboard_option
@click.option("--check", is_flag=True, help="Do not write; exit 1 if the leaderboard differs from what the results render.")
@click.option("--wide", is_flag=True, help="Every column (times, throughput, losses, memory, scores), not only those that decide.")
def leaderboard(results_path: Path, leaderboard_path: Path, check: bool, wide: bool) -> None:
    """Render LEADERBOARD.md from the results (or check that it is current).

    Each table is headed by its verdict and shows what decides (steps,
    speed-up and held-out loss against padding, efficiency, leakage, the
    machine's load) in 120 columns; --wide shows every column. The results
    file must exist: a mistyped --results never replaces the leaderboard with
    an empty one. --leaderboard - prints the board instead of writing it.
    """
    from axolotl_packing_bench.report.leaderboard import render_leaderboard
    from axolotl_packing_bench.core.fileio import UnreadableFile, atomic_write_text, read_user_text

    results = read_results_or_fail(results_path, must_exist=True)
    text = render_leaderboard(results, source=results_path.name, wide=wide)
    if board_file(leaderboard_path) is None:
        if check:
            raise UserInputError("--check compares the results with a leaderboard file; give --leaderboard PATH, not -.")
        click.echo(text, nl=False)
        return
    if check:
        try:
            current = read_user_text(leaderboard_path)
        except UnreadableFile:  # missing, a directory or not UTF-8: not what the results render
            current = None
        if current != text:
            click.echo(f"{leaderboard_path} is stale; run `packbench leaderboard --results {results_path} --leaderboard {leaderboard_path}`.", err=True)
            raise SystemExit(1)
        click.echo(f"{leaderboard_path} is up to date.")
        return
    check_board_or_fail(leaderboard_path)
    atomic_write_text(leaderboard_path, text)
    click.echo(f"rendered {leaderboard_path} from {len(results)} result(s)")


def _limit(name: str, value: str | None) -> float | None:
    if value is None:
        return None
    from axolotl_packing_bench.report.compare import parse_fraction

    try:
        return parse_fraction(value)
    except ValueError:
        raise UserInputError(f"{name} {value!r} is not a percentage; write e.g. 10% or 0.1.") from None


@click.command()
@click.option("--baseline", required=True, type=click.Path(path_type=Path, dir_okay=False), help="Results JSONL of the reference run.")
@click.option("--candidate", required=True, type=click.Path(path_type=Path, dir_okay=False), help="Results JSONL to check.")
@click.option("--max-slowdown", default="10%", show_default=True, help="Largest allowed train-time increase per cell.")
@click.option("--max-efficiency-drop", default=None, help="Largest allowed packing-efficiency drop, in percentage points (1% = 1 pp).")
@click.option("--max-loss-increase", default=None, help="Largest allowed relative increase of the final train loss.")
@click.option("--allow-missing", is_flag=True, help="Warn, instead of failing, for baseline cells missing from the candidate.")
@click.option("--match", "match", type=click.Choice(["cell", "axes"]), default="cell", show_default=True,
              help="Match cells by cell id, or by their axis labels (the id without its config hash) to compare two "
                   "configurations of one matrix.")
def compare(
    baseline: Path,
    candidate: Path,
    max_slowdown: str,
    max_efficiency_drop: str | None,
    max_loss_increase: str | None,
    allow_missing: bool,
    match: str,
) -> None:
    """Compare two results files cell by cell; exit 1 on any regression.

    Cells are matched by cell id. A regression is a cell slower, less
    efficient or with a higher loss than allowed, a cell that failed in the
    candidate but not in the baseline, or (unless --allow-missing) a
    baseline cell absent from the candidate. Compare runs from the same
    machine: absolute times from different hardware say little.

    A cell id carries a hash of the cell's config, so a changed recipe key
    renames every cell; --match axes pairs cells by their axis labels instead
    (model, dataset, strategy, attention, ...), e.g. to time a matrix with
    one recipe key changed against the original.
    """
    from axolotl_packing_bench.report.compare import Limits, compare_results, render_comparison

    limits = Limits(
        max_slowdown=_limit("--max-slowdown", max_slowdown),
        max_efficiency_drop=_limit("--max-efficiency-drop", max_efficiency_drop),
        max_loss_increase=_limit("--max-loss-increase", max_loss_increase),
        allow_missing=allow_missing,
    )
    base = read_results_or_fail(baseline, must_exist=True)
    cand = read_results_or_fail(candidate, must_exist=True)
    if not base:
        raise UserInputError(f"baseline {baseline} holds no results; record a baseline run first.")
    if match == "axes":
        for path, results in ((baseline, base), (candidate, cand)):
            matrices = sorted({result.matrix for result in results})
            if len(matrices) > 1:
                raise UserInputError(f"{path} holds results of matrices {', '.join(matrices)}; --match axes pairs cells by "
                                     "their labels alone, so give it one matrix's results per file (run with --results).")
    comparison = compare_results(base, cand, limits, match)
    click.echo(render_comparison(comparison), nl=False)
    if comparison.regressed:
        raise SystemExit(1)
