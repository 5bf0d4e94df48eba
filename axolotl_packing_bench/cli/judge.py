"""`packbench judge`: a GPT judge rates the runs' answers; verdicts into the results."""

from __future__ import annotations

from pathlib import Path

import click

from axolotl_packing_bench.cli.bench_options import (
    check_board_or_fail,
    leaderboard_option,
    read_results_or_fail,
    results_option,
)
from axolotl_packing_bench.cli.errors import UserInputError


def _summary(judge: dict) -> str:
    if judge["mode"] == "absolute":
        mean = "—" if judge["mean_score"] is None else f"{judge['mean_score']:.2f}"
        verdict = f"mean rating {mean}"
    else:
        verdict = f"win/tie/loss {judge['win']}/{judge['tie']}/{judge['loss']}"
    cost = "" if judge["cost_usd"] is None else f", ${judge['cost_usd']:.4f}"
    return (
        f"{verdict} over {judge['judged']} judged, {judge['invalid']} invalid; "
        f"{judge['prompt_tokens']}+{judge['completion_tokens']} tokens{cost}"
    )


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--prompts",
    default="offline",
    show_default=True,
    help="offline, offline:N, or a JSONL with a `prompt` field per line.",
)
@click.option("--judge-base-url", required=True, help="OpenAI-compatible endpoint, e.g. https://api.openai.com/v1.")
@click.option("--judge-model", required=True, help="Judge model name at that endpoint.")
@click.option(
    "--api-key-env",
    default="OPENAI_API_KEY",
    show_default=True,
    help="NAME of the variable holding the API key (never written anywhere). It must be set, except for a judge "
    "on this machine (localhost, 127.x, ::1) when this option is left at its default: that one gets a "
    "placeholder key.",
)
@click.option("--no-api-key", is_flag=True, help="The judge needs no key: send none and require none.")
@click.option(
    "--mode",
    type=click.Choice(["absolute", "pairwise"]),
    default="absolute",
    show_default=True,
    help="Rate 1-10, or compare with the padding run.",
)
@click.option(
    "--baseline",
    type=click.Path(path_type=Path),
    default=None,
    help="Pairwise baseline (default: the padding run among RUN_DIRS, per model and dataset).",
)
@click.option(
    "--concurrency", type=click.IntRange(min=1), default=4, show_default=True, help="Judge requests in flight at most."
)
@click.option(
    "--max-retries",
    type=click.IntRange(min=0),
    default=4,
    show_default=True,
    help="Retries on connection errors, 429 and 5xx (exponential backoff).",
)
@click.option(
    "--cache",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Judge reply cache (JSONL) [default: $PACKBENCH_HOME/judge-cache.jsonl].",
)
@click.option(
    "--max-new-tokens",
    type=click.IntRange(min=1),
    default=256,
    show_default=True,
    help="Answer length of the judged models.",
)
@click.option(
    "--judge-max-tokens", type=click.IntRange(min=1), default=1024, show_default=True, help="Reply length of the judge."
)
@click.option(
    "--price-per-1k-input",
    type=click.FloatRange(min=0),
    default=None,
    help="Judge price per 1k input tokens, for cost_usd.",
)
@click.option(
    "--price-per-1k-output",
    type=click.FloatRange(min=0),
    default=None,
    help="Judge price per 1k output tokens, for cost_usd.",
)
@click.option("--device", default="cpu", show_default=True, help="Torch device generating the answers.")
@click.option("--dtype", default="float32", show_default=True, help="Weights dtype generating the answers.")
@results_option
@leaderboard_option
def judge(
    run_dirs: tuple[Path, ...],
    prompts: str,
    judge_base_url: str,
    judge_model: str,
    api_key_env: str,
    no_api_key: bool,
    mode: str,
    baseline: Path | None,
    concurrency: int,
    max_retries: int,
    cache: Path | None,
    max_new_tokens: int,
    judge_max_tokens: int,
    price_per_1k_input: float | None,
    price_per_1k_output: float | None,
    device: str,
    dtype: str,
    results_path: Path,
    leaderboard_path: Path,
) -> None:
    """Have a judge model rate the answers of trained runs.

    Each RUN_DIR's model answers the prompts (greedy, locally); the judge at
    --judge-base-url rates each answer 1-10 (absolute) or compares it with
    the padding run's answer in both orders (pairwise). Replies are cached,
    so a rerun sends no request. The verdicts go to RUN_DIR/packbench_judge.json
    and to the run's row in the results.
    """
    from axolotl_packing_bench.core.extras import require

    require("openai", "torch", "transformers", command="judge")
    from axolotl_packing_bench.assets import packbench_home
    from axolotl_packing_bench.eval.errors import EvalError
    from axolotl_packing_bench.eval.judge import JudgeSettings, judge_run, pick_baselines
    from axolotl_packing_bench.eval.prompts import load_prompts
    from axolotl_packing_bench.eval.rundir import JUDGE_FILE, open_run_dir, write_report
    from axolotl_packing_bench.eval.store import record_evaluation, result_for_run

    try:
        settings = JudgeSettings(
            base_url=judge_base_url,
            model=judge_model,
            api_key_env=api_key_env,
            mode=mode,
            prompts=prompts,
            concurrency=concurrency,
            max_retries=max_retries,
            cache=cache or packbench_home() / "judge-cache.jsonl",
            max_new_tokens=max_new_tokens,
            judge_max_tokens=judge_max_tokens,
            price_per_1k_input=price_per_1k_input,
            price_per_1k_output=price_per_1k_output,
            device=device,
            dtype=dtype,
            api_key_required=click.get_current_context().get_parameter_source("api_key_env")
            is not click.core.ParameterSource.DEFAULT,
            no_api_key=no_api_key,
        )
        runs = [open_run_dir(path) for path in run_dirs]
        baseline_run = open_run_dir(baseline) if baseline is not None else None
        if mode == "pairwise":
            pick_baselines(runs, baseline_run)  # every run has a baseline, said before any model loads
        load_prompts(prompts)  # a bad prompt file fails before any model loads too
        client = settings.client()
    except EvalError as error:
        raise UserInputError(str(error)) from None
    read_results_or_fail(results_path)
    check_board_or_fail(leaderboard_path)
    baselines = pick_baselines(runs, baseline_run) if mode == "pairwise" else dict.fromkeys(run.path for run in runs)
    todo = [run for run in runs if mode == "absolute" or baselines[run.path] is not None]
    if not todo:
        click.echo("nothing to judge: in pairwise mode every RUN_DIR given is a baseline.")
    for run in todo:  # one run at a time, recorded as soon as judged
        before = client.stats.as_dict()
        try:
            outcome = judge_run(run, settings, client, baseline=baselines[run.path])
        except EvalError as error:
            raise click.ClickException(str(error)) from None
        after = client.stats.as_dict()
        write_report(run.path / JUDGE_FILE, outcome.report({key: after[key] - before[key] for key in after}))
        line = f"{run.path}: {_summary(outcome.judge)}"
        if run.run_id is None:
            line += f" (no packbench_metrics.json: verdicts are in {run.path / JUDGE_FILE} only)"
        else:
            record_evaluation(
                results_path,
                run.run_id,
                judge=outcome.judge,
                fallback=result_for_run(run.path),
                leaderboard_path=leaderboard_path,
            )
        click.echo(line)
    stats = client.stats.as_dict()
    click.echo(
        f"judge requests: {stats['requests']} sent, {stats['retries']} retried, {stats['failed']} failed, "
        f"{stats['cache_hits']} cache hits; {stats['prompt_tokens']}+{stats['completion_tokens']} new tokens"
    )
