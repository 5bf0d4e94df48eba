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
from axolotl_packing_bench.cli.output_options import emit, format_option, output_option, to_json


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--matrix", "matrix_name", default="hand", show_default=True, help="Matrix name the run is listed under.")
@click.option(
    "--model-name",
    "--model",
    "model_name",
    default=None,
    help="Model label (default: the embedded model's name, else the last part of the model path).",
)
@click.option(
    "--model-size",
    default=None,
    help="Model size label, e.g. 8B (default: the embedded model's, else its parameter count).",
)
@click.option(
    "--dataset-name",
    "--dataset",
    "dataset_name",
    default=None,
    help="Dataset label (default: the embedded dataset's name, else the stem of the first dataset file).",
)
@click.option(
    "--dataset-size",
    default=None,
    help="Dataset size label, e.g. 69K (default: the embedded dataset's, else its sample count).",
)
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
    from axolotl_packing_bench.report.publish import record_result
    from axolotl_packing_bench.results.record import RecordError, result_from_run_dir

    try:
        result = result_from_run_dir(
            run_dir,
            matrix=matrix_name,
            model=model_name,
            dataset=dataset_name,
            model_size=model_size,
            dataset_size=dataset_size,
        )
    except RecordError as error:
        raise UserInputError(str(error).rstrip(".") + ".") from None
    read_results_or_fail(results_path)  # a directory or another kind of file here is a user error, said plainly
    check_board_or_fail(board_file(leaderboard_path))  # checked before the append, so a swapped pair writes nothing
    record_result(result, results_path, board_file(leaderboard_path))
    click.echo(
        f"recorded {result.status} run {result.run_id} as cell {result.cell_id} "
        f"(matrix {result.matrix}) in {results_path}"
    )
    if board_file(leaderboard_path) is None:
        from axolotl_packing_bench.report.leaderboard import render_leaderboard

        click.echo(render_leaderboard(read_results_or_fail(results_path), source=results_path.name), nl=False)


@click.command()
@results_option
@leaderboard_option
@click.option(
    "--check", is_flag=True, help="Do not write; exit 1 if the leaderboard differs from what the results render."
)
@click.option(
    "--wide", is_flag=True, help="Every column (times, throughput, losses, memory, scores), not only those that decide."
)
@format_option
@output_option
def leaderboard(
    results_path: Path, leaderboard_path: Path, check: bool, wide: bool, output_format: str, output_path: Path | None
) -> None:
    """Render LEADERBOARD.md from the results (or check that it is current).

    Each table is headed by its verdict and shows what decides (steps,
    speed-up and held-out loss against padding, efficiency, leakage, the
    machine's load) in 120 columns; --wide shows every column. The results
    file must exist: a mistyped --results never replaces the leaderboard with
    an empty one. --leaderboard - prints the board instead of writing it.
    --format json prints every cell's figures (or writes them to --output)
    and leaves the board alone.
    """
    from axolotl_packing_bench.core.fileio import UnreadableFile, atomic_write_text, read_user_text
    from axolotl_packing_bench.report.leaderboard import render_leaderboard

    results = read_results_or_fail(results_path, must_exist=True)
    if output_format == "json":
        from axolotl_packing_bench.report.leaderboard_json import leaderboard_to_dict

        if check:
            raise UserInputError("--check compares the markdown board; leave out --format json to check it.")
        emit(to_json(leaderboard_to_dict(results, source=results_path.name)), output_path)
        return
    if output_path is not None:
        raise UserInputError("--output is for --format json; the markdown board is written to --leaderboard.")
    text = render_leaderboard(results, source=results_path.name, wide=wide)
    if board_file(leaderboard_path) is None:
        if check:
            raise UserInputError(
                "--check compares the results with a leaderboard file; give --leaderboard PATH, not -."
            )
        click.echo(text, nl=False)
        return
    if check:
        try:
            current = read_user_text(leaderboard_path)
        except UnreadableFile:  # missing, a directory or not UTF-8: not what the results render
            current = None
        if current != text:
            click.echo(
                f"{leaderboard_path} is stale; "
                f"run `packbench leaderboard --results {results_path} --leaderboard {leaderboard_path}`.",
                err=True,
            )
            raise SystemExit(1)
        click.echo(f"{leaderboard_path} is up to date.")
        return
    check_board_or_fail(leaderboard_path)
    atomic_write_text(leaderboard_path, text)
    click.echo(f"rendered {leaderboard_path} from {len(results)} result(s)")


def _limit(name: str, value: str | None) -> float | None:
    if value is None:
        return None
    from axolotl_packing_bench.report.compare import parse_threshold

    try:
        return parse_threshold(value)
    except ValueError:
        raise UserInputError(
            f"{name} {value!r} needs a unit: write a percentage such as 15% or a fraction "
            "no larger than 1 such as 0.15."
        ) from None


def _tolerance(value: str) -> float | None:
    if value.strip().lower() == "off":
        return None
    try:
        tolerance = float(value)
    except ValueError:
        tolerance = -1.0
    if not tolerance >= 0 or tolerance == float("inf"):
        raise UserInputError(
            f"--heldout-tolerance {value!r} is not an absolute loss difference; write e.g. 1e-6, or off."
        )
    return tolerance


@click.command()
@click.option(
    "--baseline",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Results JSONL of the reference run.",
)
@click.option(
    "--candidate", required=True, type=click.Path(path_type=Path, dir_okay=False), help="Results JSONL to check."
)
@click.option(
    "--max-slowdown",
    default="15%",
    show_default=True,
    help="Largest allowed step-time increase per cell, with its unit: 15% or 0.15.",
)
@click.option(
    "--max-efficiency-drop",
    default=None,
    help="Largest allowed packing-efficiency drop, in percentage points (1% = 1 pp).",
)
@click.option(
    "--max-loss-increase",
    default=None,
    help="Numerics check: largest allowed relative increase of the last step's train loss (off by default).",
)
@click.option(
    "--heldout-tolerance",
    default="1e-6",
    show_default=True,
    help="Largest allowed held-out loss increase (absolute), or off.",
)
@click.option(
    "--allow-missing", is_flag=True, help="Warn, instead of failing, for baseline cells missing from the candidate."
)
@click.option(
    "--allow-loaded", is_flag=True, help="Accept runs measured on a loaded machine (their times are not comparable)."
)
@click.option(
    "--match",
    "match",
    type=click.Choice(["cell", "axes"]),
    default="cell",
    show_default=True,
    help="Match cells by cell id, or by their axis labels (the id without its config hash) to compare two "
    "configurations of one matrix.",
)
@format_option
@output_option
def compare(
    baseline: Path,
    candidate: Path,
    max_slowdown: str,
    max_efficiency_drop: str | None,
    max_loss_increase: str | None,
    heldout_tolerance: str,
    allow_missing: bool,
    allow_loaded: bool,
    match: str,
    output_format: str,
    output_path: Path | None,
) -> None:
    """Compare two results files cell by cell: exit 0 pass, 1 regression, 2 usage or input error.

    The two files may come from two environments (the same matrix run with
    the current and the next Axolotl / torch / transformers); the report
    heads with both environments' versions. A regression is a cell slower
    than the limit beyond the measured noise, a held-out loss up by more than
    the tolerance, a failed packing-equivalence check, an unreadable figure,
    a cell that failed in the candidate but not in the baseline, or (unless
    --allow-missing) a baseline cell absent from the candidate. The gate also
    fails when it compared no cell, and (unless --allow-loaded) when a run
    was measured on a loaded machine. Compare runs from the same machine.

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
        heldout_tolerance=_tolerance(heldout_tolerance),
        allow_missing=allow_missing,
        allow_loaded=allow_loaded,
    )
    base = read_results_or_fail(baseline, must_exist=True)
    cand = read_results_or_fail(candidate, must_exist=True)
    if not base:
        raise UserInputError(f"baseline {baseline} holds no results; record a baseline run first.")
    if match == "axes":
        for path, results in ((baseline, base), (candidate, cand)):
            matrices = sorted({result.matrix for result in results})
            if len(matrices) > 1:
                raise UserInputError(
                    f"{path} holds results of matrices {', '.join(matrices)}; --match axes pairs cells by "
                    "their labels alone, so give it one matrix's results per file (run with --results)."
                )
    comparison = compare_results(base, cand, limits, match)
    if output_format == "json":
        from axolotl_packing_bench.report.compare_json import comparison_to_dict

        emit(to_json(comparison_to_dict(comparison)), output_path)
    else:
        emit(render_comparison(comparison), output_path)
    if output_path is not None:
        click.echo(f"compare: {comparison.verdict} ({comparison.compared} compared cell(s)); report in {output_path}")
    if comparison.regressed:
        raise SystemExit(1)
