"""Regression mode: like with like, spread-aware slowdowns, missing metrics fail, a golden report."""

from __future__ import annotations

import os

import pytest

from axolotl_packing_bench.report.compare import Limits, compare_results, match_key, parse_fraction, render_comparison
from axolotl_packing_bench.results.store import RunResult
from tests.support.helpers import GOLDEN as SUPPORT_GOLDEN


def run(
    cell: str,
    runtime: float = 100.0,
    efficiency: float = 0.98,
    loss: float = 2.0,
    status: str = "ok",
    run_id: str | None = None,
) -> RunResult:
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
    assert "| `a` | 100 → 109 (runtime) | +9.0% |" in text and "no regression in 2 compared cell(s)." in text


def test_slowdown_fails():
    comparison = compare_results(BASELINE, [run("a", runtime=111.0), run("b", runtime=50.0)], Limits(max_slowdown=0.10))
    assert comparison.regressed
    assert [c.verdict for c in comparison.cells] == ["REGRESSION", "ok"]
    assert "- a: train time +11.0% beyond the spread (limit +10%)" in render_comparison(comparison)


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


def test_match_key_drops_only_the_content_hash():
    assert match_key("tiny-8b__synth-100__bfd__isolated-0a1b2c3d") == "tiny-8b__synth-100__bfd__isolated-0a1b2c3d"
    assert match_key("tiny-8b__synth-100__bfd__isolated-0a1b2c3d", "axes") == "tiny-8b__synth-100__bfd__isolated"
    assert match_key("hand-run", "axes") == "hand-run"  # no hash, nothing dropped
    with pytest.raises(ValueError):
        match_key("a", "model")


GOLDEN = SUPPORT_GOLDEN / "compare.md"


def steady(
    cell: str, step: float, *, strategy: str = "bfd", repeat: int = 0, table: str = "t", **training
) -> RunResult:
    """A result with a steady-state step time, in table `table`, as `packbench run --repeats` records it."""
    return RunResult(
        run_id=f"{cell}-{repeat}-{step}-{sorted(training.items())}",
        cell_id=cell,
        matrix="m",
        status="ok",
        axes={"model": table, "dataset": "d", "strategy": strategy},
        metrics={
            "training": {"median_step_s": step, "runtime_s": 10 * step, "final_train_loss": 2.0, **training},
            "packing": {"efficiency": 0.9},
        },
        repeat=repeat,
    )


class TestLikeWithLike:
    def test_a_missing_candidate_metric_fails(self):
        comparison = compare_results(
            [steady("a", 1.0)], [steady("a", 1.0).replace(metrics={"training": {"runtime_s": 10.0}})], Limits()
        )
        assert comparison.regressed
        assert "- a: training.median_step_s missing in the candidate" in render_comparison(comparison)

    def test_an_unreadable_candidate_metric_fails(self):
        comparison = compare_results(
            [steady("a", 1.0)], [steady("a", 1.0).replace(metrics={"training": {"median_step_s": "fast"}})], Limits()
        )
        assert comparison.regressed
        text = render_comparison(comparison)
        assert "training.median_step_s unreadable in the candidate" in text and "| `a` | 1 → unreadable |" in text

    def test_a_missing_metric_is_a_warning_with_allow_missing(self):
        comparison = compare_results(
            [steady("a", 1.0)], [steady("a", 1.0).replace(metrics={"training": {}})], Limits(allow_missing=True)
        )
        assert not comparison.regressed
        assert "warning: a: training.median_step_s missing in the candidate" in render_comparison(comparison)

    def test_a_slowdown_inside_the_spread_passes(self):
        base = [steady("a", step, repeat=r) for r, step in enumerate([1.00, 1.15, 1.05])]
        cand = [
            steady("a", step, repeat=r) for r, step in enumerate([1.12, 1.10, 1.25])
        ]  # median +12%, within the spread
        comparison = compare_results(base, cand, Limits(max_slowdown=0.10))
        assert not comparison.regressed
        assert comparison.cells[0].time[1].median == pytest.approx(1.12)

    def test_a_slowdown_beyond_the_spread_fails(self):
        base = [steady("a", step, repeat=r) for r, step in enumerate([1.00, 1.02, 0.98])]
        cand = [steady("a", step, repeat=r) for r, step in enumerate([1.20, 1.18, 1.22])]
        comparison = compare_results(base, cand, Limits(max_slowdown=0.10))
        assert comparison.regressed
        assert "steady-state time (median_step_s) +15.7% beyond the spread (limit +10%)" in render_comparison(
            comparison
        )

    def test_the_ratio_to_padding_is_measured_within_each_run(self):
        # the candidate machine is 2x slower everywhere: the time regresses, the ratio to padding does not
        base = [steady("pad", 2.0, strategy="padding"), steady("a", 1.0)]
        cand = [steady("pad", 4.0, strategy="padding"), steady("a", 2.0)]
        cell = {c.cell_id: c for c in compare_results(base, cand, Limits(max_slowdown=0.10)).cells}["a"]
        assert cell.ratio[0].values == (0.5,) and cell.ratio[1].values == (0.5,)
        assert cell.problems == ("steady-state time (median_step_s) +100.0% beyond the spread (limit +10%)",)
        slower = compare_results(
            base, [steady("pad", 2.0, strategy="padding"), steady("a", 1.3)], Limits(max_slowdown=0.10)
        )
        assert "time relative to padding +30.0% beyond the spread" in "; ".join(slower.cells[0].problems)


def golden_comparison() -> str:
    base = [
        *[steady("pad", 2.0 + 0.02 * r, strategy="padding", repeat=r) for r in range(3)],
        *[steady("bfd", step, repeat=r) for r, step in enumerate([1.00, 1.04, 0.98])],
        *[steady("greedy", step, strategy="greedy", repeat=r) for r, step in enumerate([1.10, 1.12, 1.08])],
        steady("gone", 1.0, strategy="random"),
    ]
    cand = [
        *[steady("pad", 2.0 + 0.01 * r, strategy="padding", repeat=r) for r in range(3)],
        *[steady("bfd", step, repeat=r) for r, step in enumerate([1.06, 1.03, 1.08])],
        *[steady("greedy", step, strategy="greedy", repeat=r) for r, step in enumerate([1.40, 1.35, 1.38])],
        steady("new", 0.9, strategy="sequential"),
    ]
    return render_comparison(compare_results(base, cand, Limits(max_slowdown=0.10)))


def test_report_matches_golden():
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(golden_comparison())
    assert golden_comparison() == GOLDEN.read_text()
