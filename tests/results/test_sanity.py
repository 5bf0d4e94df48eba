"""Impossible numbers are unreadable, missing ones are missing: one function every reader uses."""

from __future__ import annotations

import math

import pytest

from axolotl_packing_bench.results.sanity import (
    UNREADABLE,
    figure,
    number,
    step_times,
    unreadable_figures,
    why_unreadable,
)
from axolotl_packing_bench.results.store import RunResult


def result(**metrics) -> RunResult:
    return RunResult(run_id="r", cell_id="c", matrix="m", status="ok", metrics=metrics)


@pytest.mark.parametrize(
    ("value", "kind", "why"),
    [
        (math.nan, "time", "not finite"),
        (math.inf, "loss", "not finite"),
        ("1.0", "time", "not a number"),
        (True, "number", "not a number"),
        (0, "time", "zero or negative"),
        (-135.6, "time", "zero or negative"),
        (0.0, "rate", "zero or negative"),
        (1.2, "efficiency", "outside (0, 1]"),
        (0, "efficiency", "outside (0, 1]"),
        (-0.1, "loss", "negative"),
    ],
)
def test_impossible_numbers_are_unreadable(value, kind, why):
    assert why_unreadable(value, kind) == why


@pytest.mark.parametrize(
    ("value", "kind"), [(0.1, "time"), (1.0, "efficiency"), (0.0, "loss"), (-3, "number"), (None, "time")]
)
def test_possible_numbers_and_missing_ones_are_not(value, kind):
    assert why_unreadable(value, kind) is None


def test_figure_tells_missing_from_unreadable():
    run = result(training={"median_step_s": 0.0, "runtime_s": 12.5}, packing={"efficiency": 1.5})
    assert figure(run, "training", "median_step_s") is UNREADABLE
    assert figure(run, "training", "runtime_s") == 12.5
    assert figure(run, "heldout", "loss") is None
    assert number(run, "packing", "efficiency") is None and not UNREADABLE
    assert unreadable_figures(run) == {
        "packing.efficiency": "outside (0, 1]",
        "training.median_step_s": "zero or negative",
    }


def test_step_times():
    assert step_times(result(training={"step_times_s": [0.1, 0.2]})) == [0.1, 0.2]
    assert step_times(result(training={"step_times_s": [0.1, -0.2]})) is UNREADABLE
    assert step_times(result(training={"step_times_s": "fast"})) is UNREADABLE
    assert step_times(result(training={})) is None
    assert "training.step_times_s" in unreadable_figures(result(training={"step_times_s": [0.1, None]}))
