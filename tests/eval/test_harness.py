"""lm-eval on the tiny model with the shipped tasks (real, offline), and score extraction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from axolotl_packing_bench.eval.harness import LmEvalSettings, explain_failure, model_args, score_entry, top_level_tasks
from axolotl_packing_bench.eval.rundir import RunDir, open_run_dir
from tests.eval.helpers import make_run

# What lm-eval 0.4.11 returns, trimmed to the keys read.
LEAF = {
    "results": {
        "gsm8k": {
            "alias": "gsm8k",
            "exact_match,strict-match": 0.41,
            "exact_match_stderr,strict-match": 0.0135,
            "exact_match,flexible-extract": 0.45,
            "exact_match_stderr,flexible-extract": 0.0137,
        }
    },
    "group_subtasks": {"gsm8k": []},
    "configs": {
        "gsm8k": {
            "metric_list": [{"metric": "exact_match"}],
            "filter_list": [{"name": "strict-match"}, {"name": "flexible-extract"}],
        }
    },
    "n-shot": {"gsm8k": 4},
    "n-samples": {"gsm8k": {"original": 1319, "effective": 1319}},
}
GROUP = {
    "results": {
        "mmlu": {"alias": "mmlu", "acc,none": 0.6, "acc_stderr,none": 0.004},
        "mmlu_humanities": {"alias": " - humanities", "acc,none": 0.55, "acc_stderr,none": 0.007},
        "mmlu_law": {"alias": "  - law", "acc,none": 0.5, "acc_stderr,none": 0.01},
        "mmlu_stem": {"alias": " - stem", "acc,none": 0.65, "acc_stderr,none": 0.008},
        "mmlu_physics": {"alias": "  - physics", "acc,none": 0.65, "acc_stderr,none": 0.008},
    },
    "group_subtasks": {
        "mmlu_humanities": ["mmlu_law"],
        "mmlu_stem": ["mmlu_physics"],
        "mmlu": ["mmlu_humanities", "mmlu_stem"],
    },
    "configs": {"mmlu_law": {"metric_list": [{"metric": "acc"}]}, "mmlu_physics": {"metric_list": [{"metric": "acc"}]}},
    "n-shot": {"mmlu_law": 5, "mmlu_physics": 5},
    "n-samples": {"mmlu_law": {"original": 1534, "effective": 10}, "mmlu_physics": {"original": 100, "effective": 10}},
}


def test_score_entry_of_a_filtered_task():
    assert score_entry("gsm8k", LEAF, 4) == {
        "metric": "exact_match",
        "filter": "strict-match",
        "value": 0.41,
        "stderr": 0.0135,
        "n": 1319,
        "shots": 4,
    }


def test_score_entry_of_a_group_is_its_aggregate():
    assert top_level_tasks(GROUP) == ["mmlu"]
    assert score_entry("mmlu", GROUP) == {"metric": "acc", "value": 0.6, "stderr": 0.004, "n": 20, "shots": 5}


def test_score_entry_odd_results():
    assert score_entry("nope", LEAF) == {"error": "lm-eval returned no result for task nope."}
    odd = {
        "results": {"t": {"alias": "t", "f1,none": 0.3, "f1_stderr,none": "N/A"}},
        "n-samples": {"t": {"original": 10, "effective": 0.5}},
    }
    assert score_entry("t", odd) == {"metric": "f1", "value": 0.3, "stderr": None, "n": 5, "shots": 0}


def test_explain_failure(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    hub = explain_failure("mmlu", ConnectionError("Couldn't reach 'cais/mmlu' on the Hub (LocalEntryNotFoundError)"))
    assert hub == (
        "task mmlu needs its dataset from the Hugging Face Hub, which cannot be reached "
        "(HF_DATASETS_OFFLINE/HF_HUB_OFFLINE is set); "
        "run where the Hub is reachable (or with the dataset in the HF cache), or use --preset offline."
    )
    unsafe = explain_failure(
        "humaneval", ValueError("task humaneval is marked as unsafe. Set confirm_run_unsafe_code=True")
    )
    assert "--allow-code-execution" in unsafe
    assert explain_failure("x", KeyError("boom")) == "task x failed: KeyError: 'boom'."
    missing = explain_failure("y", FileNotFoundError("Dataset 'org/y' doesn't exist on the Hub or cannot be accessed."))
    assert missing.startswith("task y's dataset is not on the Hugging Face Hub, or needs a login")


def test_model_args():
    run = RunDir(path=Path("/runs/a"), model_path="/runs/a")
    assert model_args(run, LmEvalSettings(tasks={})) == "pretrained=/runs/a,dtype=float32"
    lora = RunDir(path=Path("/runs/b"), model_path="meta-llama/Meta-Llama-3-8B", adapter_path=Path("/runs/b"))
    assert model_args(lora, LmEvalSettings(tasks={}, dtype="bfloat16", model_args="trust_remote_code=True")) == (
        "pretrained=meta-llama/Meta-Llama-3-8B,dtype=bfloat16,peft=/runs/b,trust_remote_code=True"
    )


@pytest.mark.slow
def test_offline_tasks_run_for_real_and_a_hub_task_fails_alone(tiny_model: Path, tmp_path: Path):
    pytest.importorskip("lm_eval")
    from axolotl_packing_bench.eval.harness import run_lm_eval

    hub_tasks = tmp_path / "my_tasks"
    hub_tasks.mkdir()
    (hub_tasks / "needs_hub.yaml").write_text(
        "task: needs_hub\ndataset_path: packbench-tests/no-such-dataset\ntest_split: test\n"
        "output_type: multiple_choice\n"
        "doc_to_text: '{{q}}'\ndoc_to_choice: ['a', 'b']\ndoc_to_target: 0\nmetric_list: [{metric: acc}]\n"
    )
    run = open_run_dir(make_run(tmp_path, tiny_model, name="pad", seed=1))
    assert run.seed == 1
    settings = LmEvalSettings(
        tasks={"packbench_offline": None, "needs_hub": None}, limit=8, batch_size=8, include_paths=(hub_tasks,)
    )
    scores = run_lm_eval(run, settings)

    assert list(scores) == ["packbench_facts_0shot", "packbench_facts_fewshot", "packbench_facts_gen", "needs_hub"]
    for task, metric, shots in (
        ("packbench_facts_0shot", "acc", 0),
        ("packbench_facts_fewshot", "acc", 3),
        ("packbench_facts_gen", "exact_match", 0),
    ):
        entry = scores[task]
        assert entry["metric"] == metric and entry["n"] == 8 and entry["shots"] == shots, entry
        assert 0.0 <= entry["value"] <= 1.0 and entry["stderr"] is not None
    assert scores["packbench_facts_gen"]["filter"] == "first_word"
    assert scores["needs_hub"] == {"error": scores["needs_hub"]["error"]}
    assert scores["needs_hub"]["error"].startswith("task needs_hub needs its dataset from the Hugging Face Hub")
    from axolotl_packing_bench.assets import assets_root

    assert (assets_root() / "eval" / "facts-v1-seed1" / "test.jsonl").is_file()  # the run's own facts were asked
    print(json.dumps(scores))  # figures for the report (pytest -s)
