"""Cells repeated over seeds: one row each, mean ±95% interval, paired differences marked `*`.

Regenerate the golden file after an intended change with
`PACKBENCH_UPDATE_GOLDEN=1 pytest tests/report/test_leaderboard_seeds.py`.
"""

from __future__ import annotations

import math
import os

import pytest

from axolotl_packing_bench.core.intervals import difference_interval, mean_interval, t975
from axolotl_packing_bench.report.leaderboard import render_leaderboard
from axolotl_packing_bench.results.store import RunResult
from tests.support.helpers import GOLDEN

MARKDOWN = GOLDEN / "LEADERBOARD-seeds.md"

# strategy -> per seed (train time s, held-out loss, last train loss)
FIGURES = {
    "padding": {0: (40.0, 2.500, 2.10), 1: (42.0, 2.520, 2.12), 2: (41.0, 2.510, 2.08)},
    "bfd": {0: (20.0, 2.530, 2.60), 1: (21.0, 2.545, 2.62), 2: (20.5, 2.540, 2.58)},
    "random": {0: (19.0, 2.490, 2.70), 1: (25.0, 2.540, 2.55), 2: (18.0, 2.505, 2.66)},
}


def seeded_results() -> list[RunResult]:
    results = []
    for strategy, seeds in FIGURES.items():
        for seed, (runtime, heldout, train) in seeds.items():
            results.append(
                RunResult(
                    run_id=f"{strategy}{seed}",
                    cell_id=f"tiny-8b__synth-100__{strategy}__isolated__seed={seed}-0000abcd",
                    matrix="smoke",
                    status="ok",
                    axes={
                        "model": "tiny-8b",
                        "dataset": "synth-100",
                        "strategy": strategy,
                        "attention": "isolated",
                        "seed": str(seed),
                    },
                    labels={"model_size": "8B", "dataset_size": "100"},
                    metrics={
                        "training": {
                            "steps": 30 if strategy != "padding" else 120,
                            "runtime_s": runtime,
                            "final_train_loss": train,
                            "median_step_s": runtime / 100,
                        },
                        "runner": {"load": {"loaded": strategy == "random" and seed == 1}},
                        "heldout": {"loss": heldout, "tokens": 9000, "samples": 240},
                        "hardware": {"cpu": "Test CPU", "cpu_count": 2, "memory_gb": 16.0, "gpu": None, "gpu_count": 0},
                        "versions": {
                            "axolotl": "0.19.0",
                            "torch": "2.13.0+cpu",
                            "transformers": "5.16.1",
                            "python": "3.11.7",
                            "axolotl_packing_bench": "0.1.0",
                        },
                    },
                    recorded_at="2026-12-01T00:00:00+00:00",
                )
            )
    return results


def table_rows(text: str) -> dict[str, str]:
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    return {row.split(" | ")[0].strip("| "): row for row in rows}


def test_matches_golden_markdown():
    text = render_leaderboard(seeded_results(), source="results.jsonl")
    if os.environ.get("PACKBENCH_UPDATE_GOLDEN"):
        MARKDOWN.write_text(text)
    assert text == MARKDOWN.read_text()


def test_narrow_rows_show_speed_up_and_paired_heldout_difference():
    rows = table_rows(render_leaderboard(seeded_results()))
    assert (
        rows["strategy"]
        == "| strategy | seeds | steps | speed-up (time) | held-out loss (Δ) | efficiency | leakage | machine |"
    )
    assert rows["padding"] == "| padding | 3 | 120 | 1.00× | 2.5100 ±0.0248 | — | — | idle |"
    assert rows["bfd"] == "| bfd | 3 | 30 | 2.00× | +0.0283 ±0.0072* | — | — | idle |"
    assert rows["random"].endswith("| +0.0017 ±0.0399 | — | — | loaded ⚠ |")


def test_one_row_per_strategy_with_hand_computed_intervals():
    rows = table_rows(render_leaderboard(seeded_results(), wide=True))
    assert rows["strategy"].startswith("| strategy | attention | seeds | steps |")
    assert "| held-out loss | train loss (last step) |" in rows["strategy"]
    assert set(rows) == {"strategy", "padding", "bfd", "random"}
    # padding held-out loss: mean 2.51, sd 0.01, half-width t(2) * sd / sqrt(3) = 4.303 * 0.01 / 1.732
    assert "**2.5100** ±0.0248" in rows["padding"]  # the lowest mean is bold
    # bfd - padding per seed: +0.030, +0.025, +0.030 -> mean +0.0283, sd 0.00289, hw 0.0072: significant
    assert "(+0.0283 ±0.0072*)" in rows["bfd"]
    # random - padding per seed: -0.010, +0.020, -0.005 -> interval includes zero: no star
    assert "(+0.0017 ±0.0399)" in rows["random"]
    # time: bfd 20.5 vs padding 41.0 mean -> -50%, 2.00x, the paired interval in percent of padding's mean
    assert "(−50% ±3%*, 2.00×)" in rows["bfd"]
    # the steady-state step time heads the time columns; a run on a busy machine marks its row
    assert "| steps | step time (s, median) | train time (s) |" in rows["strategy"]
    assert rows["strategy"].endswith("| leakage | machine |")
    assert rows["random"].endswith("| loaded ⚠ |") and rows["bfd"].endswith("| idle |")


def test_interval_arithmetic():
    estimate = mean_interval([1.0, 2.0, 3.0])
    assert estimate.mean == 2.0 and estimate.half_width == pytest.approx(t975(2) * 1.0 / math.sqrt(3))
    assert mean_interval([5.0]).half_width is None and not mean_interval([5.0]).significant
    paired = difference_interval({"0": 2.0, "1": 3.0}, {"0": 1.0, "1": 1.5})
    assert paired.mean == pytest.approx(1.25) and paired.n == 2
    welch = difference_interval({"0": 2.0, "1": 3.0, "2": 2.5}, {"7": 1.0, "8": 1.2})
    assert welch.mean == pytest.approx(2.5 - 1.1) and welch.half_width > 0
    assert t975(1) == 12.706 and t975(11) == 2.228 and t975(1000) == 1.96
