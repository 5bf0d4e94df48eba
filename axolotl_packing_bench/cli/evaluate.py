"""`packbench eval`: lm-eval tasks on a trained run, scores into the results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from axolotl_packing_bench.cli.bench_options import (
    check_board_or_fail,
    leaderboard_option,
    read_results_or_fail,
    results_option,
)
from axolotl_packing_bench.cli.errors import UserInputError


def _limit(value: str | None) -> int | float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if number <= 0 or (number >= 1 and not number.is_integer()):
        raise UserInputError(
            f"--limit {value!r} is not a positive whole number or a fraction below 1; write e.g. --limit 50."
        )
    return int(number) if number >= 1 else number


def _batch_size(value: str) -> int | str:
    if value == "auto" or (value.isdigit() and int(value) > 0):
        return value if value == "auto" else int(value)
    raise UserInputError(f"--batch-size {value!r} is not a positive whole number or auto.")


def _table(scores: dict[str, Any]) -> list[str]:
    lines = [f"{'task':<28} {'metric':<24} {'value':>8} {'± stderr':>9} {'n':>6} {'shots':>5}"]
    for task, entry in scores.items():
        if "error" in entry:
            lines.append(f"{task:<28} error: {entry['error']}")
            continue
        metric = entry["metric"] + (f" ({entry['filter']})" if entry.get("filter") else "")
        value = "—" if entry["value"] is None else f"{entry['value']:.4f}"
        stderr = "—" if entry["stderr"] is None else f"{entry['stderr']:.4f}"
        lines.append(f"{task:<28} {metric:<24} {value:>8} {stderr:>9} {entry['n']:>6} {entry['shots']:>5}")
    return lines


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--tasks", default=None, metavar="A,B,...", help="lm-eval tasks, comma-separated (default: the preset's)."
)
@click.option(
    "--preset",
    type=click.Choice(["offline", "paper"]),
    default="offline",
    show_default=True,
    help="offline: shipped fact tasks, no hub. paper: MMLU, GSM8K, MATH, BBH, IFEval, HumanEval (hub, GPU).",
)
@click.option("--limit", default=None, metavar="N", help="Documents per task (or a fraction below 1); default all.")
@click.option("--batch-size", default="8", show_default=True, help="lm-eval batch size, or auto.")
@click.option("--device", default="cpu", show_default=True, help="Torch device, e.g. cuda:0.")
@click.option("--dtype", default="float32", show_default=True, help="Weights dtype, e.g. bfloat16 on a GPU.")
@click.option("--num-fewshot", multiple=True, metavar="TASK=K", help="Examples for one task (repeatable).")
@click.option(
    "--chat-template/--no-chat-template",
    default=False,
    show_default=True,
    help="Render prompts with the tokenizer's chat template.",
)
@click.option("--allow-code-execution", is_flag=True, help="Allow tasks that run model-written code (HumanEval).")
@click.option(
    "--include-path",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Extra folder of lm-eval task YAMLs (repeatable).",
)
@results_option
@leaderboard_option
def evaluate(
    run_dir: Path,
    tasks: str | None,
    preset: str,
    limit: str | None,
    batch_size: str,
    device: str,
    dtype: str,
    num_fewshot: tuple[str, ...],
    chat_template: bool,
    allow_code_execution: bool,
    include_path: tuple[Path, ...],
    results_path: Path,
    leaderboard_path: Path,
) -> None:
    """Score a trained run with lm-eval tasks and add the scores to the results.

    RUN_DIR is the run's output_dir (the saved model and
    packbench_metrics.json). Scores (with lm-eval's standard errors) go to
    RUN_DIR/packbench_scores.json and to the run's row in the results, which
    the leaderboard shows as extra columns; a run not yet in the results is
    recorded first, as `packbench record` would.

    The default `offline` preset runs the tasks shipped with packbench over
    fact questions generated from the synthetic data (no hub access); the
    `paper` preset runs lm-eval's MMLU, GSM8K, MATH, BBH, IFEval and HumanEval.
    """
    from axolotl_packing_bench.core.extras import require

    require("lm_eval", "torch", "transformers", command="eval")
    from axolotl_packing_bench.eval.errors import EvalError
    from axolotl_packing_bench.eval.harness import LmEvalSettings, run_lm_eval
    from axolotl_packing_bench.eval.presets import parse_num_fewshot, plan_tasks
    from axolotl_packing_bench.eval.rundir import SCORES_FILE, open_run_dir, scores_report, write_report

    try:
        run = open_run_dir(run_dir)
        names = [t for t in tasks.split(",")] if tasks is not None else None
        plan = plan_tasks(preset, names, parse_num_fewshot(num_fewshot))
        if not plan:
            raise EvalError("--tasks names no task; pass e.g. --tasks packbench_facts_0shot")
        for folder in include_path:
            if not folder.is_dir():
                raise EvalError(f"--include-path {folder} is not a folder of task YAMLs")
    except EvalError as error:
        raise UserInputError(str(error)) from None
    read_results_or_fail(results_path)  # a directory there is a user error, said before the slow part
    check_board_or_fail(leaderboard_path)
    settings = LmEvalSettings(
        tasks=plan,
        limit=_limit(limit),
        batch_size=_batch_size(batch_size),
        device=device,
        dtype=dtype,
        apply_chat_template=chat_template,
        allow_code_execution=allow_code_execution,
        include_paths=include_path,
    )
    try:
        scores = run_lm_eval(run, settings)
    except EvalError as error:
        raise UserInputError(str(error)) from None
    write_report(run.path / SCORES_FILE, scores_report(run, settings, scores))
    for line in _table(scores):
        click.echo(line)
    _record(run, scores, results_path, leaderboard_path)
    failed = [task for task, entry in scores.items() if "error" in entry]
    if failed:
        raise click.ClickException(
            f"{len(failed)} of {len(scores)} task(s) failed ({', '.join(failed)}); see the errors above."
        )


def _record(run: Any, scores: dict[str, Any], results_path: Path, leaderboard_path: Path) -> None:
    from axolotl_packing_bench.eval.rundir import SCORES_FILE
    from axolotl_packing_bench.eval.store import record_evaluation, result_for_run

    if run.run_id is None:
        click.echo(f"{run.path} has no packbench_metrics.json: scores are in {run.path / SCORES_FILE} only.")
        return
    written = record_evaluation(
        results_path, run.run_id, scores=scores, fallback=result_for_run(run.path), leaderboard_path=leaderboard_path
    )
    if written is not None:
        click.echo(
            f"added scores of run {run.run_id} (cell {written.cell_id}) to {results_path}; rendered {leaderboard_path}"
        )
