"""The follow-ups a matrix asks for after each cell: the reliance probe and its columns."""

from __future__ import annotations

import shutil

import pytest

from axolotl_packing_bench.matrix.spec import Cell
from axolotl_packing_bench.report.leaderboard import render_leaderboard
from axolotl_packing_bench.results.store import RunResult
from axolotl_packing_bench.running.follow_up import MatrixFollowUp
from axolotl_packing_bench.running.runner import CellPlan


def cell(strategy: str, attention: str = "isolated") -> Cell:
    axes = {"model": "tiny-8b", "dataset": "d", "strategy": strategy, "attention": attention}
    return Cell(cell_id=f"{strategy}-{attention}", matrix="m", axes=axes, labels={}, config={}, sources={})


def reliance_probe(run_dir, settings) -> dict:
    """The reliance probe as `packbench run` calls it after a cell: the matrix's follow-up on the trained cell."""
    follow_up = MatrixFollowUp(None, {"reliance": settings}, run_dir)
    trained = RunResult(
        run_id="r",
        cell_id="c",
        matrix="m",
        status="ok",
        reason=None,
        axes=dict(cell("bfd").axes),
        labels={},
        metrics={},
        recorded_at="2026-01-01T00:00:00+00:00",
    )
    return follow_up(CellPlan(cell("bfd"), run_dir), trained).metrics["reliance"]


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
        RunResult(
            run_id=f"r{i}",
            cell_id=f"c{i}",
            matrix="m",
            status="ok",
            reason=None,
            axes={"model": "tiny-8b", "dataset": "d", "strategy": s, "attention": "isolated"},
            labels={},
            metrics={"reliance": report, "packing": {"relatedness": {"same_group_adjacent": 0.5}}},
            recorded_at="2026-01-01T00:00:00+00:00",
        )
        for i, s in enumerate(["padding", "related"])
    ]
    board = render_leaderboard(rows)
    assert "reliance (Δ answer loss)" in board and "few_shot (Δ answer loss)" in board
    assert "same-topic neighbours" not in board and "same-topic neighbours" in render_leaderboard(rows, wide=True)


def test_a_probe_that_cannot_run_is_an_error_entry_not_a_crash(tmp_path):
    (tmp_path / "output").mkdir()
    report = reliance_probe(tmp_path, {"max_questions": 2, "bootstrap": 10})
    assert "error" in report and "probe.log" in report["error"]


def test_the_eval_baseline_is_the_padding_cell_of_the_same_setup(tmp_path):
    plans = [
        CellPlan(cell(s, a), tmp_path / f"{s}-{a}", repeat=r)
        for s, a in [("padding", "isolated"), ("bfd", "isolated"), ("bfd", "shared"), ("padding", "shared")]
        for r in (0, 1)
    ]
    follow_up = MatrixFollowUp({"tasks": []}, {}, tmp_path, tuple(plans))
    by = {(p.cell.cell_id, p.repeat): p for p in plans}
    assert follow_up.padding_run_dir(by[("bfd-isolated", 1)]) == tmp_path / "padding-isolated" / "output"
    assert follow_up.padding_run_dir(by[("bfd-shared", 0)]) == tmp_path / "padding-shared" / "output"
    assert follow_up.padding_run_dir(by[("padding-isolated", 0)]) is None
    only_isolated = MatrixFollowUp(
        {"tasks": []}, {}, tmp_path, tuple(p for p in plans if p.cell.cell_id != "padding-shared")
    )
    assert only_isolated.padding_run_dir(by[("bfd-shared", 0)]) == tmp_path / "padding-isolated" / "output"
