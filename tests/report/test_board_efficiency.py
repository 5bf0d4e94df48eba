"""The board's efficiency is what the trainer computed on; failed cells fit the board's width."""

from __future__ import annotations

import json

from axolotl_packing_bench.report.leaderboard import (
    BOARD_WIDTH,
    CUT_MARK,
    FULL_ROW_MARK,
    failed_cell_lines,
    render_leaderboard,
)
from axolotl_packing_bench.report.leaderboard_json import leaderboard_to_dict
from axolotl_packing_bench.results.store import RunResult


def result(strategy: str, *, full_row: float, trainer: float | None, runtime: float) -> RunResult:
    packing = {"rows": 100, "lower_bound": 30, "efficiency": full_row}
    if trainer is not None:
        packing["trainer_efficiency"] = trainer
    return RunResult(
        run_id=strategy,
        cell_id=f"tiny-8b__alpaca__{strategy}__isolated-0000abcd",
        matrix="real",
        status="ok",
        axes={"model": "tiny-8b", "dataset": "alpaca", "strategy": strategy, "attention": "isolated"},
        labels={"model_size": "8B", "dataset_size": "1K"},
        metrics={"packing": packing, "training": {"steps": 10, "runtime_s": runtime, "final_train_loss": 2.0}},
    )


def table_rows(text: str) -> dict[str, str]:
    return {line.split(" | ")[0][2:]: line for line in text.splitlines() if line.startswith("| ") and "---" not in line}


def test_the_narrow_board_shows_the_trainers_batch_efficiency_and_marks_the_full_row_fallback():
    results = [
        result("padding", full_row=0.232, trainer=0.475, runtime=40.0),
        result("bfd", full_row=0.981, trainer=0.953, runtime=20.0),
        result("greedy", full_row=0.979, trainer=None, runtime=21.0),  # recorded before batches were counted
    ]
    narrow = table_rows(render_leaderboard(results))
    assert "| 47.5% |" in narrow["padding"] and "23.2%" not in narrow["padding"]
    assert "| 95.3% |" in narrow["bfd"]
    assert f"| 97.9% {FULL_ROW_MARK} |" in narrow["greedy"]
    assert f"`{FULL_ROW_MARK}`: real tokens / (rows × sequence_len)" in render_leaderboard(results)

    wide = table_rows(render_leaderboard(results, wide=True))
    header = wide["strategy"]
    assert "| trainer efficiency | full-row efficiency |" in header
    assert "47.5%" in wide["padding"] and "23.2%" in wide["padding"]
    assert "(+47.8 pp)" in wide["bfd"]  # trainer: 95.3% vs padding's 47.5%
    assert "(+74.9 pp)" in wide["bfd"]  # full rows: 98.1% vs 23.2%


def test_leaderboard_json_carries_both_efficiencies():
    results = [result("padding", full_row=0.232, trainer=0.475, runtime=40.0)]
    figures = leaderboard_to_dict(results, source="r.jsonl")["cells"][0]["figures"]
    assert figures["efficiency"]["median"] == 0.232 and figures["trainer_efficiency"]["median"] == 0.475


def test_an_impossible_trainer_efficiency_reads_unreadable():
    results = [result("padding", full_row=0.232, trainer=1.7, runtime=40.0)]
    assert "| unreadable |" in table_rows(render_leaderboard(results))["padding"]


def failed(reason: str, cell_id: str = "tiny-70b__synth-470__bfd__isolated__learning_rate=0.001-0000abcd") -> RunResult:
    return RunResult(
        run_id="x",
        cell_id=cell_id,
        matrix="smoke",
        status="failed",
        reason=reason,
        axes={"model": "tiny-70b", "dataset": "synth-470", "strategy": "bfd"},
        log=f"runs/smoke.results/smoke/{cell_id}/train.log",
    )


def test_failed_cells_fit_the_board_and_a_long_reason_is_cut_with_a_pointer_to_the_whole_text():
    long_reason = (
        "training exited with status 1: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 GiB "
        "(GPU 0; 79.35 GiB total capacity; 61.02 GiB already allocated; 15.19 GiB free; 62.50 GiB reserved in "
        "total by PyTorch) If reserved memory is >> allocated memory try setting max_split_size_mb to avoid "
        "fragmentation. See documentation for Memory Management and PYTORCH_CUDA_ALLOC_CONF; last log line: "
        "step 3/57 | loss 2.31 | " + "x" * 200
    )
    short = failed("timed out after 10m00s; last log line: step 5/6", "tiny-8b__synth-100__random__isolated-0000abcd")
    cut = failed(long_reason)
    text = render_leaderboard([short, cut, result("padding", full_row=0.2, trainer=0.4, runtime=9.0)])
    section = text.split("## Failed cells", 1)[1]
    assert max(len(line) for line in section.splitlines()) <= BOARD_WIDTH
    assert "  - timed out after 10m00s; last log line: step 5/6" in section
    lines = failed_cell_lines(cut)
    assert lines[0] == f"- smoke · `{cut.cell_id}` · failed"
    assert lines[-1] == f"  - log: `{cut.log}`"
    reason_lines = lines[1:-1]
    assert len(reason_lines) == 3 and reason_lines[-1].endswith(CUT_MARK)
    assert " ".join(line.strip(" -") for line in reason_lines).startswith(long_reason[:200])
    # the whole reason is still in the JSON
    reasons = leaderboard_to_dict([cut], source="r.jsonl")["cells"][0]["reasons"]
    assert reasons == [long_reason] and json.dumps(reasons)


def test_a_short_failed_reason_stays_whole_on_one_line():
    lines = failed_cell_lines(failed("training exited with status 1: RuntimeError: a | pipe in the message"))
    assert lines[1] == "  - training exited with status 1: RuntimeError: a | pipe in the message"
