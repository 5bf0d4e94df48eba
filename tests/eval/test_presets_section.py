"""Presets, --num-fewshot parsing and the matrix `eval:` section."""

from __future__ import annotations

from pathlib import Path

import pytest

from axolotl_packing_bench.eval import OFFLINE_TASKS, check_eval_section, run_eval_section, tasks_dir
from axolotl_packing_bench.eval.errors import EvalError
from axolotl_packing_bench.eval.presets import PRESETS, parse_num_fewshot, plan_tasks


def test_presets():
    assert plan_tasks() == dict.fromkeys(OFFLINE_TASKS)
    assert plan_tasks("paper") == {
        "mmlu": 5,
        "gsm8k": 4,
        "minerva_math": 4,
        "bbh_cot_fewshot": 3,
        "ifeval": 0,
        "humaneval": 0,
    }
    assert plan_tasks("paper", ["gsm8k", "arc_easy"]) == {"gsm8k": 4, "arc_easy": None}
    assert plan_tasks("offline", ["packbench_facts_fewshot"], {"packbench_facts_fewshot": 5}) == {
        "packbench_facts_fewshot": 5
    }
    assert plan_tasks("offline", []) == {}


def test_every_offline_task_ships_a_yaml():
    for task in OFFLINE_TASKS:
        assert (tasks_dir() / f"{task}.yaml").is_file()
    assert set(PRESETS["offline"]) == set(OFFLINE_TASKS)


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["mmlu"], "is not TASK=K"),
        (["=3"], "is not TASK=K"),
        (["mmlu=-1"], "whole number"),
        (["mmlu=two"], "whole number"),
    ],
)
def test_bad_num_fewshot(items, message):
    with pytest.raises(EvalError, match=message):
        parse_num_fewshot(items)


def test_num_fewshot_for_a_task_not_run():
    assert parse_num_fewshot(["mmlu=5", "gsm8k = 8"]) == {"mmlu": 5, "gsm8k": 8}
    with pytest.raises(EvalError, match="not among the tasks"):
        plan_tasks("offline", None, {"mmlu": 5})
    with pytest.raises(EvalError, match="unknown preset 'papers'"):
        plan_tasks("papers")


def test_check_eval_section():
    good = {
        "preset": "offline",
        "tasks": ["packbench_facts_0shot"],
        "limit": 20,
        "batch_size": "auto",
        "num_fewshot": {"packbench_facts_0shot": 0},
        "judge": {"base_url": "http://127.0.0.1:8000/v1", "model": "m", "mode": "pairwise", "price_per_1k_input": 0.1},
    }
    assert check_eval_section(good) == [] and check_eval_section(None) == []
    problems = check_eval_section(
        {"preset": "fast", "taks": ["x"], "limit": 0, "judge": {"model": "m", "mode": "elo", "concurency": 2}}
    )
    text = "\n".join(problems)
    assert "eval.taks: unknown key (did you mean 'tasks'?)" in text
    assert "eval.preset: 'fast' is not one of offline, paper" in text
    assert "eval.limit: 0" in text
    assert "eval.judge.concurency: unknown key (did you mean 'concurrency'?)" in text
    assert "eval.judge.base_url: missing" in text and "eval.judge.mode: 'elo'" in text
    assert check_eval_section(["x"]) == ["eval: must be a mapping (see axolotl_packing_bench/eval/section.py)"]


def test_run_eval_section_never_raises(tmp_path: Path):
    assert run_eval_section(tmp_path, None) == {"scores": {}, "judge": {}, "error": None}
    missing = run_eval_section(tmp_path / "nope", {"preset": "offline"})
    assert missing["error"].startswith(f"run directory {tmp_path / 'nope'} does not exist")
    assert missing["scores"] == {"error": missing["error"]} and missing["judge"] == {}
    bad = run_eval_section(tmp_path, {"preset": "fast"})
    assert bad["error"].startswith("the eval section is invalid: eval.preset")
