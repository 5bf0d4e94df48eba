"""Which figures of a result are unreadable: impossible numbers are not measurements.

A figure is unreadable when it is present but cannot be a measurement of its
kind: not a finite number (text, NaN, infinity), a time or a rate that is zero
or negative, an efficiency outside (0, 1], a loss below zero. A missing figure
(None, absent key) is *missing*, not unreadable: the readers decide what a
missing figure means. `compare`, the leaderboard and the sweep read figures
through `figure`, so an unreadable one is never averaged, never compared and
never passes the gate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

TIMES = (("training", "runtime_s"), ("training", "median_step_s"), ("runner", "wall_s"))
RATES = (("training", "samples_per_s"), ("training", "real_tokens_per_s"), ("training", "steady_real_tokens_per_s"))
EFFICIENCIES = (("packing", "efficiency"), ("packing", "trainer_efficiency"))
LOSSES = (
    ("training", "final_train_loss"),
    ("training", "mean_train_loss"),
    ("training", "eval_loss"),
    ("heldout", "loss"),
)
STEP_TIMES = ("training", "step_times_s")

_KINDS: dict[tuple[str, ...], str] = {
    **{path: "time" for path in TIMES},
    **{path: "rate" for path in RATES},
    **{path: "efficiency" for path in EFFICIENCIES},
    **{path: "loss" for path in LOSSES},
}


class Unreadable:
    """The value of a present figure that cannot be a measurement (falsy, never a number)."""

    _instance: Unreadable | None = None

    def __new__(cls) -> Unreadable:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "UNREADABLE"


UNREADABLE = Unreadable()


def why_unreadable(value: Any, kind: str = "number") -> str | None:
    """Why `value` cannot be a figure of `kind` (time, rate, efficiency, loss, number), or None if it can.

    None is not judged here (a missing figure is not an unreadable one).
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "not a number"
    if not math.isfinite(value):
        return "not finite"
    if kind in ("time", "rate") and value <= 0:
        return "zero or negative"
    if kind == "efficiency" and not 0 < value <= 1:
        return "outside (0, 1]"
    if kind == "loss" and value < 0:
        return "negative"
    return None


def kind_of(path: tuple[str, ...]) -> str:
    """The kind a metric path holds (`time` for step times, `number` when not known)."""
    return "time" if path == STEP_TIMES else _KINDS.get(path, "number")


def _raw(metrics: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = metrics
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def figure(result: Any, *path: str) -> float | Unreadable | None:
    """The figure at `path` of a result's metrics: a float, `UNREADABLE`, or None when missing."""
    value = _raw(result.metrics, path)
    if value is None:
        return None
    return UNREADABLE if why_unreadable(value, kind_of(path)) else float(value)


def number(result: Any, *path: str) -> float | None:
    """`figure` with unreadable as None: for readers that only need the readable figure."""
    value = figure(result, *path)
    return value if isinstance(value, float) else None


def step_times(result: Any) -> list[float] | Unreadable | None:
    """The recorded per-step wall times, `UNREADABLE` when any is not a positive finite number."""
    values = _raw(result.metrics, STEP_TIMES)
    if values is None:
        return None
    if not isinstance(values, list) or any(why_unreadable(value, "time") or value is None for value in values):
        return UNREADABLE
    return [float(value) for value in values]


def unreadable_figures(result: Any) -> dict[str, str]:
    """Dotted metric path -> why, for every known figure of `result` that is present but unreadable."""
    found: dict[str, str] = {}
    for path, kind in _KINDS.items():
        reason = why_unreadable(_raw(result.metrics, path), kind)
        if reason:
            found[".".join(path)] = reason
    if step_times(result) is UNREADABLE:
        found[".".join(STEP_TIMES)] = "holds a value that is not a positive finite time"
    return found
