"""Which padding run is a run's baseline: one rule for the leaderboard, compare, follow-ups and the sweep.

A run's baseline is the `padding` run of the same set-up: every axis equal
except the strategy and the attention (and the seed axis where a row
averages over seeds: the leaderboard's rows, the sweep's points, which then
pair differences seed by seed). Among such padding runs the one with the
run's own attention is preferred, then the default attention (`isolated`),
then any: padding puts one sample per row, so its attention changes
nothing, and a matrix that lists padding with one attention only still
gives every attention a baseline. A padding run has no baseline.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, TypeVar

from axolotl_packing_bench.constants import BASELINE_STRATEGY, DEFAULT_ATTENTION, SEED_AXIS

T = TypeVar("T")

_NOT_SHARED = ("strategy", "attention")


def is_baseline(axes: Mapping[str, Any]) -> bool:
    """Whether a run with these axes is a baseline (its strategy is padding)."""
    return axes.get("strategy") == BASELINE_STRATEGY


def setup_key(axes: Mapping[str, Any], *, over_seeds: bool = False) -> tuple:
    """What a run and its baseline share: every axis but strategy and attention (and the seed, `over_seeds`)."""
    skip = (*_NOT_SHARED, SEED_AXIS) if over_seeds else _NOT_SHARED
    return tuple(sorted((str(name), str(value)) for name, value in axes.items() if name not in skip))


def baseline_finder(
    items: Iterable[T],
    axes_of: Callable[[T], Mapping[str, Any]],
    *,
    also: Callable[[T], Hashable] = lambda item: (),
    over_seeds: bool = False,
) -> Callable[[T], T | None]:
    """A lookup from an item (a run, a row of runs, a cell plan) to its baseline among `items`.

    Args:
        items: Where baselines are looked for; padding items are the candidates.
        axes_of: An item's axes (`result.axes`, `row[0].axes`, `plan.cell.axes`).
        also: What must match besides the axes (e.g. the matrix and the repeat).
        over_seeds: Leave the seed axis out of the match (rows that average over seeds).
    """
    candidates: dict[tuple, dict[str, T]] = {}
    for item in items:
        axes = axes_of(item)
        if is_baseline(axes):
            key = (also(item), setup_key(axes, over_seeds=over_seeds))
            candidates.setdefault(key, {}).setdefault(str(axes.get("attention", DEFAULT_ATTENTION)), item)

    def find(item: T) -> T | None:
        axes = axes_of(item)
        if is_baseline(axes):
            return None
        by_attention = candidates.get((also(item), setup_key(axes, over_seeds=over_seeds)))
        if not by_attention:
            return None
        for attention in (str(axes.get("attention", DEFAULT_ATTENTION)), DEFAULT_ATTENTION):
            if attention in by_attention:
                return by_attention[attention]
        return next(iter(by_attention.values()))

    return find


def pairing_key(result: Any) -> str:
    """What tells the runs of one row apart and pairs them with the baseline's: the seed axis value (or
    the cell, without one) and the repeat (`seed#repeat` after the first)."""
    seed = str(result.axes.get(SEED_AXIS, result.cell_id))
    return f"{seed}#{result.repeat}" if result.repeat else seed
