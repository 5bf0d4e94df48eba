"""The follow-ups a matrix asks for after each cell: the reliance probe and its columns."""

from __future__ import annotations

import shutil

import pytest

from axolotl_packing_bench.report.leaderboard import render_leaderboard
from axolotl_packing_bench.running.follow_up import reliance_probe
from axolotl_packing_bench.results.store import RunResult


@pytest.mark.slow
def test_reliance_probe_runs_on_a_cell_and_reaches_the_leaderboard(tmp_path):
    from axolotl_packing_bench.assets import ensure_model

    shutil.copytree(ensure_model("tiny-8b-init"), tmp_path / "output")
    report = reliance_probe(tmp_path, {"max_questions": 6, "bootstrap": 50, "generate": False, "threads": 1})
    assert "error" not in report, (tmp_path / "probe.log").read_text()[-2000:]
    assert set(report["effects"]) >= {"reliance", "distraction", "unrelated", "few_shot"}
    low, high = report["effects"]["reliance"]["answer_loss"]["ci"]
    assert low <= report["effects"]["reliance"]["answer_loss"]["mean"] <= high

    rows = [
        RunResult(run_id=f"r{i}", cell_id=f"c{i}", matrix="m", status="ok", reason=None,
                  axes={"model": "tiny-8b", "dataset": "d", "strategy": s, "attention": "isolated"},
                  labels={}, metrics={"reliance": report, "packing": {"relatedness": {"same_group_adjacent": 0.5}}},
                  recorded_at="2026-01-01T00:00:00+00:00")
        for i, s in enumerate(["padding", "related"])
    ]
    board = render_leaderboard(rows)
    assert "reliance (Δ answer loss)" in board and "few_shot (Δ answer loss)" in board
    assert "same-topic neighbours" not in board and "same-topic neighbours" in render_leaderboard(rows, wide=True)


def test_a_probe_that_cannot_run_is_an_error_entry_not_a_crash(tmp_path):
    (tmp_path / "output").mkdir()
    report = reliance_probe(tmp_path, {"max_questions": 2, "bootstrap": 10})
    assert "error" in report and "probe.log" in report["error"]
