"""The gate's safe inputs and rules: units, zero cells, loaded runs, few repeats, paired steps, quality, exit codes.

Golden reports of each refusal live in tests/support/golden/compare-gate/; regenerate them after an
intended change with `UPDATE_GOLDEN=1 pytest tests/report/test_compare_gate.py`.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from axolotl_packing_bench.cli import main
from axolotl_packing_bench.report.compare import Limits, compare_results, parse_threshold, render_comparison
from axolotl_packing_bench.results.store import RunResult, append_result
from tests.support.helpers import GOLDEN

GATE_GOLDEN = GOLDEN / "compare-gate"
VERSIONS_OLD = {"axolotl": "0.19.0", "torch": "2.13.0+cpu", "transformers": "5.16.1", "python": "3.11.7"}
VERSIONS_NEW = {"axolotl": "0.21.0", "torch": "2.14.0+cpu", "transformers": "5.18.0", "python": "3.12.1"}


def profile(steps: int = 60, seed: int = 7) -> list[float]:
    """Per-step base times: batches differ (some rows longer), as real padding steps do."""
    rng = random.Random(seed)
    return [0.1 + 0.05 * rng.random() for _ in range(steps)]


def timed(
    cell: str,
    repeat: int,
    factor: float = 1.0,
    *,
    noise: float = 0.05,
    seed: int = 0,
    strategy: str = "bfd",
    versions: dict | None = None,
    loaded: bool | None = None,
    heldout: float | None = 3.25,
    steps: int = 60,
    equivalence: bool | None = None,
    axes: dict | None = None,
) -> RunResult:
    """One repeat of a cell with per-step times: the profile x factor x noise (seeded by cell, repeat, seed)."""
    rng = random.Random(f"{cell}-{repeat}-{seed}-{factor}")
    times = [round(t * factor * (1 + noise * rng.uniform(-1, 1)), 6) for t in profile(steps)]
    metrics: dict = {
        "training": {
            "step_times_s": times,
            "warmup_steps": 3,
            "median_step_s": sorted(times[3:])[len(times[3:]) // 2],
            "runtime_s": sum(times),
            "final_train_loss": 2.0,
        },
        "packing": {"efficiency": 0.9},
        "versions": versions or VERSIONS_OLD,
    }
    if heldout is not None:
        metrics["heldout"] = {"loss": heldout}
    if loaded is not None:
        metrics["runner"] = {"load": {"loaded": loaded}}
    if equivalence is not None:
        metrics["equivalence"] = {"passed": equivalence}
    return RunResult(
        run_id=f"{cell}-{repeat}-{seed}-{factor}-{loaded}-{heldout}",
        cell_id=cell,
        matrix="gate",
        status="ok",
        axes=axes or {"model": "tiny", "dataset": "d", "strategy": strategy},
        metrics=metrics,
        repeat=repeat,
    )


def repeats(factor: float = 1.0, n: int = 3, seed: int = 0, **kwargs) -> list[RunResult]:
    return [
        timed(cell, r, factor, seed=seed, strategy=strategy, **kwargs)
        for cell, strategy in (("pad", "padding"), ("bfd", "bfd"))
        for r in range(n)
    ]


def write(path: Path, results: list[RunResult]) -> Path:
    for result in results:
        append_result(path, result)
    return path


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def check_golden(name: str, text: str) -> None:
    path = GATE_GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


class TestThresholdsNeedAUnit:
    @pytest.mark.parametrize(("text", "value"), [("15%", 0.15), ("0.15", 0.15), ("1", 1.0), ("150%", 1.5), ("0", 0.0)])
    def test_accepted(self, text, value):
        assert parse_threshold(text) == pytest.approx(value)

    @pytest.mark.parametrize("text", ["15", "1.5", "-5%", "inf%", "nan", "lots", ""])
    def test_refused(self, text):
        with pytest.raises(ValueError):
            parse_threshold(text)

    def test_a_unitless_threshold_is_one_sentence_and_exit_2(self, tmp_path):
        base = write(tmp_path / "base.jsonl", repeats())
        result = invoke("compare", "--baseline", str(base), "--candidate", str(base), "--max-slowdown", "15")
        assert result.exit_code == 2
        check_golden("unitless-threshold.txt", result.output)

    def test_the_default_is_the_recommended_15_percent(self):
        assert Limits().max_slowdown == 0.15
        option = next(p for p in main.get_command(None, "compare").params if p.name == "max_slowdown")  # type: ignore[union-attr]
        assert option.default == "15%"


class TestRefusals:
    def test_zero_compared_cells_fail_whatever_the_flags(self, tmp_path):
        base = write(tmp_path / "base.jsonl", repeats())
        cand = tmp_path / "cand.jsonl"
        cand.write_text("")
        result = invoke(
            "compare", "--baseline", str(base), "--candidate", str(cand), "--allow-missing", "--allow-loaded"
        )
        assert result.exit_code == 1
        check_golden("zero-cells.md", result.output)

    def test_loaded_runs_fail_the_gate_naming_them(self, tmp_path):
        base = write(tmp_path / "base.jsonl", repeats(loaded=False))
        cand = write(
            tmp_path / "cand.jsonl", [*repeats(loaded=False)[:4], *[timed("bfd", r, loaded=True) for r in (1, 2)]]
        )
        result = invoke("compare", "--baseline", str(base), "--candidate", str(cand))
        assert result.exit_code == 1
        assert "bfd (candidate repeat 1), bfd (candidate repeat 2)" in result.output
        check_golden("loaded.md", result.output)
        accepted = invoke("compare", "--baseline", str(base), "--candidate", str(cand), "--allow-loaded")
        assert accepted.exit_code == 0, accepted.output

    def test_one_repeat_says_the_spread_is_unknown_and_the_rule_used(self, tmp_path):
        base = write(tmp_path / "base.jsonl", repeats(n=1))
        cand = write(tmp_path / "cand.jsonl", repeats(n=1, seed=1))
        result = invoke("compare", "--baseline", str(base), "--candidate", str(cand))
        assert result.exit_code == 0, result.output
        assert "±0.0%" not in result.output and "| unknown |" in result.output
        check_golden("one-repeat.md", result.output)

    def test_one_repeat_without_step_times_says_the_plain_change_is_used(self):
        old = timed("bfd", 0).replace(metrics={"training": {"median_step_s": 1.0}})
        new = timed("bfd", 0).replace(metrics={"training": {"median_step_s": 1.05}})
        text = render_comparison(compare_results([old], [new], Limits()))
        assert "rule used instead: bfd: the plain change of one measurement against the limit." in text

    @pytest.mark.parametrize(
        ("value", "why"), [(-135.6, "zero or negative"), (0.0, "zero or negative"), (float("nan"), "not finite")]
    )
    def test_impossible_times_never_pass(self, value, why):
        good = repeats()
        bad = [
            run.replace(metrics={**run.metrics, "training": {**run.metrics["training"], "median_step_s": value}})
            for run in good
        ]
        for baseline, candidate, side in ((good, bad, "candidate"), (bad, good, "baseline")):
            comparison = compare_results(baseline, candidate, Limits())
            assert comparison.regressed
            assert f"training.median_step_s unreadable in the {side} ({why})" in render_comparison(comparison)


class TestPairedSteps:
    def test_identical_reruns_pass(self):
        for seed in range(1, 6):
            comparison = compare_results(repeats(), repeats(seed=seed), Limits())
            assert not comparison.regressed, render_comparison(comparison)
            assert {cell.rule for cell in comparison.cells} == {"paired-steps"}

    def test_a_real_slowdown_beyond_the_limit_fails(self):
        comparison = compare_results(repeats(), repeats(1.2, seed=1), Limits())
        assert comparison.regressed
        assert all(
            "paired by step (95% lower bound +" in problem for cell in comparison.cells for problem in cell.problems
        )
        assert all(0.17 < cell.steps.slowdown < 0.23 for cell in comparison.cells)

    def test_a_slowdown_below_the_limit_passes(self):
        assert not compare_results(repeats(), repeats(1.08, seed=1), Limits()).regressed

    def test_more_repeats_narrow_the_interval(self):
        five = compare_results(repeats(n=5), repeats(n=5, seed=1), Limits()).cells[0].steps
        nine = compare_results(repeats(n=9), repeats(n=9, seed=1), Limits()).cells[0].steps
        assert five.repeats_resampled and nine.repeats_resampled
        assert nine.high - nine.low < five.high - five.low

    def test_more_steps_narrow_the_interval_at_three_repeats(self):
        short = compare_results(repeats(steps=30), repeats(seed=1, steps=30), Limits()).cells[0].steps
        long = compare_results(repeats(steps=120), repeats(seed=1, steps=120), Limits()).cells[0].steps
        assert not short.repeats_resampled
        assert long.high - long.low < short.high - short.low

    def test_one_disturbed_baseline_repeat_does_not_hide_a_real_slowdown(self):
        """Measured idle: one baseline repeat of three ran 35% slower than its neighbours; a x1.2 candidate
        must still fail (resampling three repeats let that one run set the lower bound below zero)."""
        base = [timed("bfd", r, 1.35 if r == 2 else 1.0) for r in range(3)]
        comparison = compare_results(base, [timed("bfd", r, 1.25, seed=1) for r in range(3)], Limits())
        assert comparison.regressed
        assert comparison.cells[0].steps.low > 0

    def test_one_disturbed_repeat_is_no_false_alarm(self):
        cand = [timed("bfd", r, 1.35 if r == 1 else 1.0, seed=1) for r in range(3)]
        assert not compare_results([timed("bfd", r) for r in range(3)], cand, Limits()).regressed


class TestQuality:
    def test_heldout_loss_is_gated_with_an_absolute_tolerance(self):
        assert not compare_results(repeats(), repeats(heldout=3.25), Limits()).regressed
        worse = compare_results(repeats(), repeats(heldout=3.25001), Limits())
        assert worse.regressed and "held-out loss +1e-05 (tolerance 1e-06)" in render_comparison(worse)
        assert not compare_results(repeats(), repeats(heldout=3.25001), Limits(heldout_tolerance=1e-4)).regressed
        assert not compare_results(repeats(), repeats(heldout=3.2), Limits()).regressed  # lower is not a regression

    def test_a_missing_heldout_loss_fails(self):
        comparison = compare_results(repeats(), repeats(heldout=None), Limits())
        assert "heldout.loss missing in the candidate" in render_comparison(comparison)

    def test_a_failed_equivalence_check_fails(self):
        comparison = compare_results(repeats(equivalence=True), repeats(equivalence=False), Limits())
        text = render_comparison(comparison)
        assert comparison.regressed and "packing equivalence failed in the candidate" in text and "✓ → ✗" in text
        assert not compare_results(repeats(equivalence=True), repeats(equivalence=True), Limits()).regressed

    def test_heldout_over_seeds_beyond_the_seeds_interval_fails(self):
        def seeds(shift: float) -> list[RunResult]:
            return [
                timed(
                    f"bfd-s{seed}",
                    0,
                    heldout=3.2 + 0.01 * seed + shift,
                    seed=seed,
                    axes={"model": "tiny", "dataset": "d", "strategy": "bfd", "seed": str(seed)},
                )
                for seed in range(3)
            ]

        limits = Limits(heldout_tolerance=0.1)  # each cell within the tolerance: only the seeds see the change
        assert not compare_results(seeds(0.0), seeds(0.0), limits).regressed
        worse = compare_results(seeds(0.0), seeds(0.05), limits)
        assert worse.regressed and "held-out loss over 3 seeds +0.0500" in render_comparison(worse)


def test_the_report_heads_with_both_environments(tmp_path):
    text = render_comparison(compare_results(repeats(), repeats(seed=1, versions=VERSIONS_NEW), Limits()))
    assert text.splitlines()[0] == (
        "Environments: baseline: axolotl 0.19.0, torch 2.13.0+cpu, transformers 5.16.1, python 3.11.7; "
        "candidate: axolotl 0.21.0, torch 2.14.0+cpu, transformers 5.18.0, python 3.12.1"
    )


def test_exit_codes(tmp_path):
    base = write(tmp_path / "base.jsonl", repeats())
    same = write(tmp_path / "same.jsonl", repeats(seed=1))
    slow = write(tmp_path / "slow.jsonl", repeats(1.4, seed=1))
    assert invoke("compare", "--baseline", str(base), "--candidate", str(same)).exit_code == 0
    assert invoke("compare", "--baseline", str(base), "--candidate", str(slow)).exit_code == 1
    assert invoke("compare", "--baseline", str(base), "--candidate", str(tmp_path / "nope.jsonl")).exit_code == 2
    assert (
        invoke("compare", "--baseline", str(base), "--candidate", str(same), "--heldout-tolerance", "x").exit_code == 2
    )
    assert invoke("compare", "--baseline", str(base), "--candidate", str(same), "--format", "yaml").exit_code == 2
