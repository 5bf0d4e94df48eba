"""The leaderboard and the sweep read figures through results.sanity: impossible numbers are never shown as figures."""

from __future__ import annotations

import pytest

from axolotl_packing_bench.report.leaderboard import render_leaderboard
from axolotl_packing_bench.report.sweep import sweep_series
from axolotl_packing_bench.results.store import RunResult


def run(strategy: str, runtime: float, seed: str = "0", loss: float = 2.0, efficiency: float = 0.9) -> RunResult:
    return RunResult(
        run_id=f"{strategy}-{seed}-{runtime}",
        cell_id=f"{strategy}-{seed}",
        matrix="m",
        status="ok",
        axes={"model": "tiny", "dataset": "d", "strategy": strategy, "attention": "isolated", "seed": seed},
        labels={"model_size": "8B", "dataset_size": "100"},
        metrics={
            "training": {"runtime_s": runtime, "steps": 10, "final_train_loss": loss},
            "packing": {"efficiency": efficiency},
            "heldout": {"loss": loss},
        },
    )


def test_the_narrow_board_never_shows_an_impossible_figure():
    text = render_leaderboard([run("padding", 0.0, efficiency=0.4), run("bfd", -135.6, efficiency=1.3)])
    bfd = next(line for line in text.splitlines() if line.startswith("| bfd"))
    assert "| unreadable |" in bfd and "130.0%" not in text  # efficiency 1.3
    assert "×" not in bfd  # no speed-up from impossible train times
    assert "135.6" not in text


def test_the_wide_board_shows_impossible_times_and_efficiencies_as_unreadable():
    text = render_leaderboard([run("padding", 0.0, efficiency=0.4), run("bfd", -135.6, efficiency=1.3)], wide=True)
    rows = [line for line in text.splitlines() if line.startswith("| padding") or line.startswith("| bfd")]
    assert len(rows) == 2
    for row in rows:
        cells = row.split(" | ")
        assert cells[3] == "unreadable"  # train time (s): zero, negative
    assert "| unreadable |" in rows[1] and "130.0%" not in text  # efficiency 1.3
    assert "−135.6" not in text and "-135.6" not in text


def test_sweep_never_plots_an_impossible_time():
    results = [
        run("padding", 10.0, "0"),
        run("padding", 10.0, "1"),
        run("bfd", 0.0, "0"),
        run("bfd", float("nan"), "1"),
    ]
    (point,) = sweep_series(results)
    assert point.time_ratio is None
    assert point.quality is not None and point.quality.mean == pytest.approx(0.0)
