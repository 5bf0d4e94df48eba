"""Scores and judge verdicts reach the results store and the leaderboard."""

from __future__ import annotations

import re
from pathlib import Path

from axolotl_packing_bench.eval.store import attach, attach_evaluation, merge_scores, record_evaluation
from axolotl_packing_bench.results.store import RunResult, append_result, read_results

PAD = {"metric": "acc", "value": 0.25, "stderr": 0.04, "n": 96, "shots": 0}
JUDGE = {
    "mode": "absolute",
    "judge_model": "gpt-4o-mini",
    "mean_score": 6.5,
    "win": 0,
    "tie": 0,
    "loss": 0,
    "judged": 10,
    "invalid": 1,
    "prompt_tokens": 3000,
    "completion_tokens": 400,
    "cost_usd": 0.0007,
}


def result(run_id: str, strategy: str, **fields) -> RunResult:
    return RunResult(
        run_id=run_id,
        cell_id=f"tiny-8b__synth-69k__{strategy}__isolated-0000000{len(strategy)}",
        matrix="smoke",
        status="ok",
        axes={"model": "tiny-8b", "dataset": "synth-69k", "strategy": strategy, "attention": "isolated"},
        labels={"model_size": "8B", "dataset_size": "69K"},
        metrics={"training": {"runtime_s": 10.0, "final_train_loss": 5.0}, "packing": {"efficiency": 0.5}},
        **fields,
    )


def test_merge_scores_keeps_other_tasks_and_good_scores():
    old = {"a": PAD, "b": {"error": "x."}}
    new = {"b": {**PAD, "value": 0.5}, "c": {"error": "hub down."}}
    assert merge_scores(old, new) == {"a": PAD, "b": {**PAD, "value": 0.5}, "c": {"error": "hub down."}}
    # a failure now never erases an earlier score of the same task
    assert merge_scores({"a": PAD}, {"a": {"error": "hub down."}}) == {"a": PAD}
    assert merge_scores({}, {"error": "no model."}) == {"error": "no model."}
    assert merge_scores({"error": "no model."}, {"a": PAD}) == {"a": PAD}


def test_attach_is_pure_and_keeps_training_figures():
    before = result("r1", "greedy")
    after = attach(before, scores={"t": PAD}, judge=JUDGE)
    assert before.scores == {} and before.judge == {}
    assert after.scores == {"t": PAD} and after.judge == JUDGE and after.metrics == before.metrics
    assert attach(after, judge={"error": "judge down."}).judge == JUDGE  # a failed rerun keeps the verdicts
    assert attach(after) is after
    assert attach_evaluation(before, {"scores": {"t": PAD}, "judge": {}, "error": None}).scores == {"t": PAD}


def test_record_evaluation_appends_latest_wins_and_renders(tmp_path: Path):
    from axolotl_packing_bench.report.leaderboard import render_leaderboard

    store = tmp_path / "results.jsonl"
    append_result(store, result("pad", "padding"))
    append_result(store, result("greedy", "greedy"))
    record_evaluation(store, "pad", scores={"packbench_facts_0shot": PAD})
    written = record_evaluation(
        store,
        "greedy",
        scores={"packbench_facts_0shot": {**PAD, "value": 0.5}},
        judge=JUDGE,
        leaderboard_path=tmp_path / "LB.md",
    )
    assert written is not None and written.judge == JUDGE
    rows = {r.run_id: r for r in read_results(store)}
    assert rows["pad"].scores["packbench_facts_0shot"]["value"] == 0.25
    assert (
        rows["greedy"].scores["packbench_facts_0shot"]["value"] == 0.5
        and rows["greedy"].metrics == result("g", "greedy").metrics
    )
    assert len(store.read_text().splitlines()) == 4  # appended, never rewritten
    board = (tmp_path / "LB.md").read_text()
    assert board == render_leaderboard(read_results(store), source="results.jsonl")
    assert "packbench_facts_0shot" in board and "| 0.500 (+0.250) |" in board  # the score and its delta vs padding
    # the wide board: the score, its stderr and its delta vs padding, in the task's own column
    wide = render_leaderboard(read_results(store), source="results.jsonl", wide=True)
    assert re.search(r"\| packbench_facts_0shot \(acc\) \|", wide)
    assert re.search(r"\*\*0\.500\*\* ±0\.\d{3} \(\+0\.250\)", wide)
    assert "judge score" in wide and re.search(r"6\.50\** \[\d+ judged, \d+ invalid\]", wide)


def test_unknown_run_is_not_written_unless_a_fallback_is_given(tmp_path: Path):
    store = tmp_path / "results.jsonl"
    assert record_evaluation(store, "nope", scores={"t": PAD}) is None and not store.exists()
    written = record_evaluation(store, "nope", scores={"t": PAD}, fallback=result("nope", "bfd"))
    assert written is not None and read_results(store)[0].scores == {"t": PAD}


def _attach_tasks(results_path: str, run_id: str, worker: int, count: int) -> None:
    for index in range(count):
        record_evaluation(results_path, run_id, scores={f"task-{worker}-{index}": {**PAD, "value": index / count}})


def test_concurrent_attachments_lose_no_task(tmp_path: Path):
    """8 processes x 25 attachments, each a different task: the latest row keeps all 200 (issue 14, defect 6)."""
    import multiprocessing

    path = tmp_path / "results.jsonl"
    append_result(path, result("r1", "bfd"))
    append_result(path, result("other", "padding"))
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_attach_tasks, args=(str(path), "r1", worker, 25)) for worker in range(8)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
    assert [process.exitcode for process in workers] == [0] * 8
    latest = {r.run_id: r for r in read_results(path)}
    assert len(latest["r1"].scores) == 200
    assert latest["r1"].scores["task-7-24"]["value"] == 24 / 25
    assert latest["r1"].metrics == result("r1", "bfd").metrics and latest["other"].scores == {}
    assert len(path.read_text().splitlines()) == 2 + 200


def test_update_result_without_the_run_or_a_fallback_creates_nothing(tmp_path: Path):
    from axolotl_packing_bench.eval.store import update_result

    path = tmp_path / "results.jsonl"
    assert update_result(path, "r1", lambda r: r) is None and not path.exists()
    assert update_result(path, "r1", lambda r: r.replace(judge=JUDGE), fallback=result("r1", "bfd")).judge == JUDGE
    assert [r.judge for r in read_results(path)] == [JUDGE]
