"""GPT-judge a run's answers: absolute ratings, or pairwise against padding.

For each run: answer the prompt set with the run's model (`generate`), ask
the judge (`judge_client`), parse the verdicts (`judging`), and return the
run's `judge` section plus per-prompt details (written by the CLI to
``RUN_DIR/packbench_judge.json``). Pairwise mode compares each run with the
padding run of its group (same model and dataset in the metrics), or with
an explicit baseline.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axolotl_packing_bench.eval import judging
from axolotl_packing_bench.eval.errors import EvalError
from axolotl_packing_bench.eval.generate import generate_answers
from axolotl_packing_bench.eval.judge_client import DEFAULT_API_KEY_ENV, JudgeClient, JudgeRequest
from axolotl_packing_bench.eval.prompts import OFFLINE, PromptSet, load_prompts
from axolotl_packing_bench.eval.rundir import RunDir


def is_local_url(url: str) -> bool:
    """Whether `url` points at this machine (localhost, 127.x.x.x, ::1): a local judge, that needs no key by default."""
    import ipaddress
    from urllib.parse import urlsplit

    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name other than localhost: not known to be this machine
        return False


def api_key_problem(base_url: str, api_key_env: str, *, named: bool, no_api_key: bool = False) -> str | None:
    """Why the judge cannot start for want of its API key, in one sentence; None when it can.

    The key variable must be set unless `no_api_key`, or unless it was left
    at its default (`named` False) and the judge runs on this machine
    (`is_local_url`), where a placeholder key is sent.
    """
    if no_api_key or os.environ.get(api_key_env):
        return None
    if not named and is_local_url(base_url):
        return None
    return (
        f"the judge's API key variable {api_key_env} is not set; export {api_key_env} with the key, "
        "or pass --no-api-key (in a matrix, set eval.judge.no_api_key to true) for a judge that needs none"
    )


@dataclass(frozen=True)
class JudgeSettings:
    """How to judge (see `packbench judge --help`; a matrix's ``eval.judge``)."""

    base_url: str
    model: str
    api_key_env: str = DEFAULT_API_KEY_ENV
    mode: str = judging.ABSOLUTE
    prompts: str = OFFLINE
    concurrency: int = 4
    max_retries: int = 4
    backoff_s: float = 1.0
    timeout_s: float = 120.0
    cache: Path | None = None
    max_new_tokens: int = 256
    judge_max_tokens: int = 1024
    price_per_1k_input: float | None = None
    price_per_1k_output: float | None = None
    device: str = "cpu"
    dtype: str = "float32"
    batch_size: int = 8
    api_key_required: bool = False  # the user named the variable: it must be set, even for a local judge
    no_api_key: bool = False  # the judge needs no key: none is read or required

    def __post_init__(self) -> None:
        if self.mode not in judging.MODES:
            raise EvalError(f"unknown judge mode {self.mode!r}; use one of {', '.join(judging.MODES)}")
        if not self.base_url or not self.model:
            raise EvalError("the judge needs a base URL and a model name; pass --judge-base-url and --judge-model")
        problem = api_key_problem(
            self.base_url, self.api_key_env, named=self.api_key_required, no_api_key=self.no_api_key
        )
        if problem is not None:
            raise EvalError(problem)

    def client(self) -> JudgeClient:
        return JudgeClient(
            self.base_url,
            self.model,
            api_key_env=self.api_key_env,
            cache=self.cache,
            concurrency=self.concurrency,
            max_retries=self.max_retries,
            backoff_s=self.backoff_s,
            timeout_s=self.timeout_s,
            max_tokens=self.judge_max_tokens,
            no_api_key=self.no_api_key,
        )


@dataclass
class JudgeOutcome:
    """One judged run: its `judge` section and the per-prompt details."""

    run: RunDir
    judge: dict[str, Any]
    items: list[dict[str, Any]] = field(default_factory=list)
    prompt_set: str = ""
    answers_reused: bool = False

    def report(self, stats: dict[str, int]) -> dict[str, Any]:
        """What ``packbench_judge.json`` holds."""
        return {
            "run_id": self.run.run_id,
            "prompt_set": self.prompt_set,
            "judge": self.judge,
            "stats": stats,
            "items": self.items,
        }


def _answers(run: RunDir, prompts: PromptSet, settings: JudgeSettings) -> tuple[list[str], bool]:
    return generate_answers(
        run,
        prompts,
        max_new_tokens=settings.max_new_tokens,
        device=settings.device,
        dtype=settings.dtype,
        batch_size=settings.batch_size,
    )


def judge_run(
    run: RunDir,
    settings: JudgeSettings,
    client: JudgeClient,
    *,
    baseline: RunDir | None = None,
) -> JudgeOutcome:
    """Answer, judge and summarize one run (pairwise needs ``baseline``)."""
    prompts = load_prompts(settings.prompts, seed=run.seed)
    answers, reused = _answers(run, prompts, settings)
    rubric = judging.RUBRIC_VERSION[settings.mode]
    requests: list[JudgeRequest] = []
    if settings.mode == judging.ABSOLUTE:
        for prompt, answer in zip(prompts.prompts, answers, strict=True):
            messages = judging.absolute_messages(prompt.prompt, answer, prompt.reference)
            requests.append(_request(settings.mode, rubric, prompt.prompt, (answer,), prompt.reference, messages))
    else:
        if baseline is None:
            raise EvalError(
                "pairwise judging needs a baseline run; pass --baseline RUN_DIR or the padding run of the group"
            )
        base_answers, _ = _answers(baseline, prompts, settings)
        for prompt, answer, base in zip(prompts.prompts, answers, base_answers, strict=True):
            for pair in ((answer, base), (base, answer)):  # both orders cancel position bias
                messages = judging.pairwise_messages(prompt.prompt, *pair, prompt.reference)
                requests.append(_request(settings.mode, rubric, prompt.prompt, pair, prompt.reference, messages))
    replies = client.ask_all(requests)

    items: list[dict[str, Any]] = []
    verdicts: list[float | str | None] = []
    per_prompt = 1 if settings.mode == judging.ABSOLUTE else 2
    for index, (prompt, answer) in enumerate(zip(prompts.prompts, answers, strict=True)):
        group = replies[index * per_prompt : (index + 1) * per_prompt]
        if settings.mode == judging.ABSOLUTE:
            parsed = [judging.parse_score(r.text) for r in group]
            verdict = parsed[0].verdict
        else:
            parsed = [judging.parse_verdict(r.text) for r in group]
            verdict = judging.combine_orders(parsed[0], parsed[1])
        verdicts.append(verdict)
        items.append(
            {
                "id": prompt.id,
                "answer": answer,
                "verdict": verdict,
                "problems": [
                    client.scrub(r.error) if r.error else p.problem for r, p in zip(group, parsed, strict=True)
                ],
                "replies": [client.mask(r.text) for r in group],
                "cached": [r.cached for r in group],
            }
        )
    judge = judging.summarize(
        settings.mode,
        settings.model,
        verdicts,
        prompt_tokens=sum(r.prompt_tokens for r in replies),
        completion_tokens=sum(r.completion_tokens for r in replies),
        price_in=settings.price_per_1k_input,
        price_out=settings.price_per_1k_output,
    )
    judge["rubric"] = rubric
    judge["prompt_set"] = prompts.name
    if baseline is not None:
        judge["baseline_run_id"] = baseline.run_id
    return JudgeOutcome(run, judge, items, prompts.name, reused)


def _request(
    mode: str, rubric: str, prompt: str, answers: tuple[str, ...], reference: str | None, messages: list[dict[str, str]]
) -> JudgeRequest:
    return JudgeRequest(mode, rubric, prompt, answers, reference, tuple((m["role"], m["content"]) for m in messages))


def pick_baselines(runs: Sequence[RunDir], baseline: RunDir | None) -> dict[Path, RunDir | None]:
    """Each run's pairwise baseline: ``baseline``, else its padding run by the one baseline rule
    (`results.baseline`: same model and datasets, the run's own attention first).

    The baseline itself maps to None (nothing to compare). `EvalError` when a
    run has no padding run in its group.
    """
    from axolotl_packing_bench.results.baseline import baseline_finder, is_baseline

    def axes(run: RunDir) -> dict[str, str | None]:
        model, datasets = run.group_key()
        return {
            "strategy": run.strategy,
            "attention": run.metrics.get("attention"),
            "model": model,
            "dataset": "|".join(datasets),
        }

    find = baseline_finder(runs, axes)
    chosen: dict[Path, RunDir | None] = {}
    for run in runs:
        if baseline is not None:
            chosen[run.path] = None if run.path.resolve() == baseline.path.resolve() else baseline
        elif is_baseline(axes(run)):
            chosen[run.path] = None
        elif (padding := find(run)) is not None:
            chosen[run.path] = padding
        else:
            raise EvalError(
                f"pairwise mode needs the padding run of {run.path}'s model and dataset; "
                "add its RUN_DIR or pass --baseline RUN_DIR"
            )
    return chosen
