"""Regression mode: cells matched by id, limits, failures and missing cells."""

from __future__ import annotations

import pytest

from axolotl_packing_bench.bench.compare import Limits, compare_results, parse_fraction, render_comparison
from axolotl_packing_bench.bench.results import RunResult


def run(cell: str, runtime: float = 100.0, efficiency: float = 0.98, loss: float = 2.0, status: str = "ok", run_id: str | None = None) -> RunResult:
    return RunResult(
        run_id=run_id or f"{cell}-{runtime}-{status}",
        cell_id=cell,
        matrix="m",
        status=status,
        reason=None if status == "ok" else "boom",
        metrics={"training": {"runtime_s": runtime, "final_train_loss": loss}, "packing": {"efficiency": efficiency}},
    )


BASELINE = [run("a"), run("b", runtime=50.0)]


def test_within_limits_passes():
    comparison = compare_results(BASELINE, [run("a", runtime=109.0), run("b", runtime=40.0)], Limits(max_slowdown=0.10))
    assert not comparison.regressed
    text = render_comparison(comparison)
    assert "| `a` | 100.0 → 109.0 (+9.0%)" in text and "no regression in 2 compared cell(s)." in text


def test_slowdown_fails():
    comparison = compare_results(BASELINE, [run("a", runtime=111.0), run("b", runtime=50.0)], Limits(max_slowdown=0.10))
    assert comparison.regressed
    assert [c.verdict for c in comparison.cells] == ["REGRESSION", "ok"]
    assert "- a: train time +11.0% (limit +10%)" in render_comparison(comparison)


def test_efficiency_drop_is_in_percentage_points():
    limits = Limits(max_slowdown=None, max_efficiency_drop=0.01)
    assert not compare_results(BASELINE, [run("a", efficiency=0.975), run("b", runtime=50.0)], limits).regressed
    bad = compare_results(BASELINE, [run("a", efficiency=0.95), run("b", runtime=50.0)], limits)
    assert "efficiency −3.00 pp (limit 1 pp)" in render_comparison(bad)


def test_loss_increase_is_relative():
    limits = Limits(max_slowdown=None, max_loss_increase=0.05)
    assert not compare_results(BASELINE, [run("a", loss=2.09), run("b", runtime=50.0)], limits).regressed
    assert compare_results(BASELINE, [run("a", loss=2.2), run("b", runtime=50.0)], limits).regressed


def test_a_failed_candidate_cell_regresses():
    comparison = compare_results(BASELINE, [run("a", status="failed"), run("b", runtime=50.0)], Limits())
    assert "failed in the candidate: boom" in render_comparison(comparison)


def test_missing_cells_fail_unless_allowed():
    assert compare_results(BASELINE, [run("a")], Limits()).regressed
    allowed = compare_results(BASELINE, [run("a")], Limits(allow_missing=True))
    assert not allowed.regressed
    assert "warning: b: missing from the candidate" in render_comparison(allowed)


def test_new_cells_are_listed_not_failed():
    comparison = compare_results(BASELINE, [*BASELINE, run("c")], Limits())
    assert not comparison.regressed
    assert comparison.cells[-1].verdict == "new"


def test_latest_result_of_a_cell_is_compared():
    candidate = [run("a", runtime=500.0, run_id="old"), run("a", runtime=100.0, run_id="new"), run("b", runtime=50.0)]
    assert not compare_results(BASELINE, candidate, Limits()).regressed


@pytest.mark.parametrize(("text", "value"), [("10%", 0.10), ("0.1", 0.1), ("1%", 0.01), (0.05, 0.05), ("0", 0.0)])
def test_parse_fraction(text, value):
    assert parse_fraction(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["ten", "-5%", "nan"])
def test_parse_fraction_rejects(text):
    with pytest.raises(ValueError):
        parse_fraction(text)
