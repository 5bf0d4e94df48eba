"""The tables of a board: results grouped like the paper, rows per strategy, runs per seed.

One table per matrix × dataset × model (× any other axis values), one row per
strategy and attention (padding first) and number of training processes, and
in each row one run per seed (or repeat). The leaderboard renders these tables and the verdict reads them, so
both pair a strategy with the same padding row.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from axolotl_packing_bench.constants import DEFAULT_ATTENTION, PROCESSES_AXIS, SEED_AXIS
from axolotl_packing_bench.matrix.labels import model_title
from axolotl_packing_bench.matrix.spec import CORE_AXES, strategy_sort_key
from axolotl_packing_bench.results.baseline import baseline_finder, is_baseline
from axolotl_packing_bench.results.baseline import pairing_key as seed_of
from axolotl_packing_bench.results.store import RunResult

__all__ = ["Table", "group_tables", "load_of", "number", "processes_of", "seed_of", "size_value", "values_by_seed"]


def number(value: Any) -> float | None:
    """A finite int or float as float; anything else (bool, None, NaN, text) None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if math.isnan(value) or math.isinf(value):
        return None
    return float(value)


def size_value(label: Any) -> float:
    """`69K` -> 69e3, `1.2M` -> 1.2e6, `8B` -> 8e9; unknown -> inf (sorted last)."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmMbBtT]?)\s*", str(label or ""))
    if not match:
        return math.inf
    scale = {"": 1, "k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}[match.group(2).lower()]
    return float(match.group(1)) * scale


def values_by_seed(get: Callable[[RunResult], Any], runs: Iterable[RunResult]) -> dict[str, float]:
    """The numeric values `get` finds in `runs`, keyed by `seed_of`."""
    return {seed_of(run): value for run in runs if (value := number(get(run))) is not None}


def load_of(result: RunResult) -> bool | None:
    """Whether the machine was loaded while the run trained (None: not measured, e.g. a hand run)."""
    loaded = result.metric("runner", "load", "loaded")
    return loaded if isinstance(loaded, bool) else None


def processes_of(result: RunResult) -> int:
    """The training processes a run used: its `num_processes` axis, else what the plugin or the runner
    recorded, else 1 (runs recorded before processes were)."""
    for value in (
        result.axes.get(PROCESSES_AXIS),
        result.metric("processes"),
        result.metric("runner", PROCESSES_AXIS),
    ):
        try:
            count = int(value)  # an axis label is text
        except (TypeError, ValueError):
            continue
        if count >= 1 and not isinstance(value, bool):
            return count
    return 1


def _group_key(result: RunResult) -> tuple:
    extras = tuple(
        (name, label)
        for name, label in sorted(result.axes.items())
        if name not in CORE_AXES and name not in (SEED_AXIS, PROCESSES_AXIS)  # processes: a row of the table
    )
    return (
        result.matrix,
        size_value(result.labels.get("dataset_size")),
        result.axes.get("dataset", "?"),
        size_value(result.labels.get("model_size")),
        result.axes.get("model", "?"),
        extras,
    )


def _row_key(result: RunResult) -> tuple:
    attention = result.axes.get("attention", "")
    strategy = strategy_sort_key(result.axes.get("strategy", ""))
    return (strategy, attention != DEFAULT_ATTENTION, attention, processes_of(result))


def dataset_title(name: Any, size: Any) -> str:
    return f"{name} ({size})" if size else str(name)


@dataclass(frozen=True)
class Table:
    """One table: its matrix, its heading (dataset × model · extra axes) and its rows of runs."""

    matrix: str
    title: str
    extras: tuple[tuple[str, str], ...]
    rows: tuple[tuple[RunResult, ...], ...]

    @property
    def runs(self) -> list[RunResult]:
        return [run for row in self.rows for run in row]

    @property
    def baseline(self) -> tuple[RunResult, ...] | None:
        """The table's first padding row (default attention first), when it has one."""
        return next((row for row in self.rows if is_baseline(row[0].axes)), None)

    def baseline_of(self, row: tuple[RunResult, ...]) -> tuple[RunResult, ...] | None:
        """The padding row `row` is compared with (`results.baseline`; None for a padding row)."""
        return baseline_finder(self.rows, lambda runs: runs[0].axes, over_seeds=True)(row)

    @property
    def name(self) -> str:
        """`synth-100 × tiny-8b`: short enough for one terminal line."""
        first = self.rows[0][0]
        extras = ", ".join(f"{axis}={label}" for axis, label in self.extras)
        return f"{first.axes.get('dataset', '?')} × {first.axes.get('model', '?')}" + (f" · {extras}" if extras else "")


def group_tables(results: Iterable[RunResult]) -> list[Table]:
    """The tables of these (successful) results, in board order."""
    groups: dict[tuple, list[RunResult]] = {}
    for result in results:
        groups.setdefault(_group_key(result), []).append(result)
    tables = []
    for key in sorted(groups):
        runs = sorted(groups[key], key=lambda r: (_row_key(r), seed_of(r), r.cell_id))
        rows = tuple(tuple(row) for _, row in itertools.groupby(runs, key=_row_key))
        first = rows[0][0]
        title = (
            f"{dataset_title(first.axes.get('dataset', '?'), first.labels.get('dataset_size'))} × "
            f"{model_title(first.axes.get('model', '?'), first.labels.get('model_size'))}"
        )
        tables.append(Table(matrix=key[0], title=title, extras=key[5], rows=rows))
    return tables
