"""Task presets and ``task=k`` few-shot settings for `packbench eval`.

- ``offline`` (the default): the tasks shipped in ``eval/tasks/`` over fact
  questions generated locally from the synthetic data. Runs anywhere, in
  seconds on the tiny models; no hub access.
- ``paper``: the usual SFT benchmarks of the packing paper's kind, through
  lm-eval's own tasks: MMLU 5-shot, GSM8K 4-shot, MATH (minerva_math) 4-shot,
  BBH chain-of-thought 3-shot, IFEval and HumanEval 0-shot. Needs their
  datasets from the Hugging Face Hub (or already in the HF cache), a GPU to
  finish in reasonable time, and `allow_code_execution` for HumanEval.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from axolotl_packing_bench.eval.errors import EvalError

OFFLINE_TASKS = ("packbench_facts_0shot", "packbench_facts_fewshot", "packbench_facts_gen")

PRESETS: dict[str, dict[str, int | None]] = {
    # None: the task YAML's own number of examples.
    "offline": {"packbench_facts_0shot": None, "packbench_facts_fewshot": None, "packbench_facts_gen": None},
    "paper": {
        "mmlu": 5,
        "gsm8k": 4,
        "minerva_math": 4,
        "bbh_cot_fewshot": 3,
        "ifeval": 0,
        "humaneval": 0,
    },
}
DEFAULT_PRESET = "offline"


def tasks_dir() -> Path:
    """The folder of the shipped task YAMLs (an lm-eval ``include_path``)."""
    return Path(__file__).resolve().parent / "tasks"


def parse_num_fewshot(items: Iterable[str] | Mapping[str, object]) -> dict[str, int]:
    """``["task=k", ...]`` (or a mapping) -> ``{task: k}``; `EvalError` on bad input."""
    pairs = list(items.items()) if isinstance(items, Mapping) else []
    if not isinstance(items, Mapping):
        for item in items:
            task, sep, value = str(item).partition("=")
            if not sep or not task.strip():
                raise EvalError(f"--num-fewshot {item!r} is not TASK=K; write e.g. --num-fewshot mmlu=5")
            pairs.append((task.strip(), value.strip()))
    shots: dict[str, int] = {}
    for task, value in pairs:
        try:
            count = int(str(value))
        except ValueError:
            count = -1
        if count < 0 or isinstance(value, bool):
            raise EvalError(f"num_fewshot for {task} is {value!r}; use a whole number of examples, 0 or more")
        shots[str(task)] = count
    return shots


def plan_tasks(
    preset: str | None = None,
    tasks: Iterable[str] | None = None,
    num_fewshot: Mapping[str, int] | None = None,
) -> dict[str, int | None]:
    """Task name -> number of examples (None: the task's default), in run order.

    ``tasks`` (when given) replaces the preset's task list; the preset still
    gives the number of examples of the tasks it names; ``num_fewshot``
    overrides both, for tasks in the list only.
    """
    name = preset or DEFAULT_PRESET
    if name not in PRESETS:
        raise EvalError(f"unknown preset {name!r}; use one of {', '.join(PRESETS)}")
    defaults = PRESETS[name]
    names = list(dict.fromkeys(t.strip() for t in tasks if t.strip())) if tasks is not None else list(defaults)
    plan = {task: defaults.get(task) for task in names}
    for task, count in (num_fewshot or {}).items():
        if task not in plan:
            raise EvalError(
                f"--num-fewshot names {task}, which is not among the tasks ({', '.join(plan) or 'none'}); "
                "add it to --tasks"
            )
        plan[task] = count
    return plan
