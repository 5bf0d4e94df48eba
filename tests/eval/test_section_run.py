"""`run_eval_section`: what the matrix runner calls after a cell trains."""

from __future__ import annotations

from pathlib import Path

import pytest

from axolotl_packing_bench.eval import attach_evaluation, run_eval_section
from axolotl_packing_bench.results.store import RunResult, append_result, read_results
from tests.eval.helpers import SECRET, completion, fake_judge, files_containing, make_run


@pytest.mark.slow
def test_scores_and_judge_then_a_judge_that_is_down(tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    pytest.importorskip("lm_eval")
    pytest.importorskip("openai")
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    run_dir = make_run(tmp_path / "runs", tiny_model, name="greedy", strategy="greedy")
    spec = {
        "preset": "offline",
        "tasks": ["packbench_facts_0shot"],
        "limit": 4,
        "batch_size": 4,
        "judge": {
            "base_url": "",
            "model": "gpt-test",
            "prompts": "offline:2",
            "max_new_tokens": 4,
            "cache": "judge.jsonl",
        },
    }
    with fake_judge(lambda n, b: (200, completion("Rating: [[6]]", 80, 8))) as server:
        spec["judge"]["base_url"] = server.url
        outcome = run_eval_section(run_dir, spec, base_dir=tmp_path)
    assert outcome["error"] is None, outcome
    assert outcome["scores"]["packbench_facts_0shot"]["n"] == 4
    assert outcome["judge"]["mean_score"] == 6.0 and outcome["judge"]["judged"] == 2
    assert (tmp_path / "judge.jsonl").is_file()  # relative to base_dir
    assert (run_dir / "packbench_scores.json").is_file() and (run_dir / "packbench_judge.json").is_file()

    # The runner recorded training first; attaching never loses it.
    store = tmp_path / "results.jsonl"
    trained = RunResult(run_id="run-greedy", cell_id="c", matrix="m", status="ok", metrics={"training": {"steps": 20}})
    append_result(store, trained)
    append_result(store, attach_evaluation(trained, outcome))

    spec["tasks"] = []  # judge only, and the judge is down
    spec["judge"].update(base_url="http://127.0.0.1:9/v1", max_retries=0, cache="other.jsonl")
    down = run_eval_section(run_dir, spec, base_dir=tmp_path)
    assert down["scores"] == {} and set(down["judge"]) == {"error"}
    assert down["error"] == down["judge"]["error"] and down["error"].startswith(
        "the judge at http://127.0.0.1:9/v1 failed every request"
    )
    append_result(store, attach_evaluation(read_results(store)[-1], down))
    (latest,) = read_results(store)
    assert latest.metrics == {"training": {"steps": 20}} and latest.judge["mean_score"] == 6.0  # earlier verdict kept
    assert files_containing(tmp_path, SECRET) == []


def test_pairwise_without_a_baseline_is_an_error_entry(tiny_model: Path, tmp_path: Path):
    run_dir = make_run(tmp_path, tiny_model, name="bfd", strategy="bfd")
    outcome = run_eval_section(
        run_dir, {"tasks": [], "judge": {"base_url": "http://127.0.0.1:9/v1", "model": "m", "mode": "pairwise"}}
    )
    assert outcome["judge"] == {"error": outcome["error"]} and "needs the padding run" in outcome["error"]
    same = run_eval_section(
        run_dir,
        {"tasks": [], "judge": {"base_url": "http://127.0.0.1:9/v1", "model": "m", "mode": "pairwise"}},
        baseline_run_dir=run_dir,
    )
    assert same == {"scores": {}, "judge": {}, "error": None}  # the padding cell is not compared with itself
