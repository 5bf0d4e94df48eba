"""Evaluation of trained runs: lm-eval tasks and a GPT judge, into the results.

Two things are added to a run's `RunResult` (``results.jsonl``), and from
there to the leaderboard's extra columns (differences against padding are
the leaderboard's job):

``scores``: one entry per lm-eval task (a group such as ``mmlu``: its
aggregate), from lm-eval's own metric and standard error::

    {"packbench_facts_0shot": {"metric": "acc", "value": 0.26, "stderr": 0.045,
                               "n": 96, "shots": 0},
     "gsm8k": {"metric": "exact_match", "filter": "strict-match", "value": 0.41,
               "stderr": 0.014, "n": 1319, "shots": 4},
     "minerva_math": {"error": "task minerva_math needs its dataset from the Hub, ..."}}

``judge``: the GPT judge's verdict on the run's answers to a prompt set::

    {"mode": "absolute" | "pairwise", "judge_model": "gpt-4o-mini",
     "mean_score": 6.2 | None,            # absolute: mean 1-10 rating of valid judgments
     "win": 0, "tie": 0, "loss": 0,       # pairwise vs padding, both orders agreeing
     "judged": 40, "invalid": 2,          # prompts with / without a usable verdict
     "prompt_tokens": 31000, "completion_tokens": 9000,
     "cost_usd": 0.0102 | None,           # None without --price-per-1k-* prices
     "rubric": "absolute-v1", "prompt_set": "offline:16",
     "baseline_run_id": "..."}            # pairwise only

A part that failed is ``{"error": "<one sentence>"}`` instead.

Entry points (heavy imports happen inside them):

- `run_eval_section(run_dir, eval_spec)`: what a matrix runner calls after a
  cell trains, with the matrix's ``eval:`` section; never raises.
- `attach` / `attach_evaluation` (pure) and `record_evaluation` (appends to
  the store): put scores and judge on a result, by run id; `update_result`
  is the locked read-modify-append beneath it, safe from many processes.
- `harness.run_lm_eval`, `judge.judge_run`: what `packbench eval` and
  `packbench judge` call.
"""

from __future__ import annotations

from axolotl_packing_bench.eval.errors import EvalError
from axolotl_packing_bench.eval.presets import OFFLINE_TASKS, PRESETS, tasks_dir
from axolotl_packing_bench.eval.section import check_eval_section, run_eval_section
from axolotl_packing_bench.eval.store import attach, attach_evaluation, record_evaluation, update_result

__all__ = [
    "OFFLINE_TASKS",
    "PRESETS",
    "EvalError",
    "attach",
    "attach_evaluation",
    "check_eval_section",
    "record_evaluation",
    "run_eval_section",
    "tasks_dir",
    "update_result",
]
