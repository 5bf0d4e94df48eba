"""Regression mode: compare a candidate results file with a baseline, cell by cell.

Cells are matched by cell id (the latest result of each). A candidate cell
regresses when, against its baseline cell:

- train time grew by more than `max_slowdown` (relative, 0.10 = 10%);
- packing efficiency fell by more than `max_efficiency_drop`
  (absolute percentage points of efficiency: 0.01 = 1 pp);
- final train loss grew by more than `max_loss_increase` (relative);
- it failed or timed out where the baseline was ok.

A baseline cell missing from the candidate is a regression unless
`allow_missing` (then a warning). Cells only in the candidate are listed as
new. A limit left as None is not checked. Compare runs made on the same
machine: absolute times from different hardware say little.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from axolotl_packing_bench.bench.results import RunResult

MINUS = "\u2212"


def parse_fraction(text: str | float) -> float:
    """`10%` -> 0.10, `0.1` -> 0.1; ValueError for anything else or a negative."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        raw = str(text).strip()
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    if math.isnan(value) or value < 0:
        raise ValueError(text)
    return value


@dataclass(frozen=True)
class Limits:
    """Regression limits; None means not checked."""

    max_slowdown: float | None = 0.10
    max_efficiency_drop: float | None = None
    max_loss_increase: float | None = None
    allow_missing: bool = False


@dataclass(frozen=True)
class CellComparison:
    """One cell's figures in baseline and candidate, and what regressed."""

    cell_id: str
    baseline: RunResult | None
    candidate: RunResult | None
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def verdict(self) -> str:
        if self.problems:
            return "REGRESSION"
        if self.baseline is None:
            return "new"
        if self.candidate is None:
            return "missing"
        return "ok"


@dataclass(frozen=True)
class Comparison:
    """All cells compared; `regressed` decides the exit status."""

    cells: tuple[CellComparison, ...]
    limits: Limits = field(default_factory=Limits)

    @property
    def regressed(self) -> bool:
        return any(cell.problems for cell in self.cells)


def _latest(results: Iterable[RunResult]) -> dict[str, RunResult]:
    latest: dict[str, RunResult] = {}
    for result in results:
        latest.pop(result.cell_id, None)
        latest[result.cell_id] = result
    return latest


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def _figures(result: RunResult | None) -> tuple[float | None, float | None, float | None]:
    if result is None or not result.ok:
        return None, None, None
    return (
        _number(result.metric("training", "runtime_s")),
        _number(result.metric("packing", "efficiency")),
        _number(result.metric("training", "final_train_loss")),
    )


def _pct(value: float) -> str:
    return f"{'+' if value >= 0 else MINUS}{abs(value) * 100:.1f}%"


def compare_results(baseline: Iterable[RunResult], candidate: Iterable[RunResult], limits: Limits) -> Comparison:
    """Compare the latest result of each cell id; pure."""
    base, cand = _latest(baseline), _latest(candidate)
    cells: list[CellComparison] = []
    for cell_id in sorted(set(base) | set(cand)):
        old, new = base.get(cell_id), cand.get(cell_id)
        problems: list[str] = []
        warnings: list[str] = []
        if new is None:
            (warnings if limits.allow_missing else problems).append("missing from the candidate")
        elif old is not None and old.ok and not new.ok:
            problems.append(f"{new.status} in the candidate: {new.reason or 'no reason recorded'}")
        elif old is not None and old.ok and new.ok:
            (t0, e0, l0), (t1, e1, l1) = _figures(old), _figures(new)
            if limits.max_slowdown is not None and t0 and t1 is not None and t1 / t0 - 1 > limits.max_slowdown:
                problems.append(f"train time {_pct(t1 / t0 - 1)} (limit +{limits.max_slowdown * 100:g}%)")
            if limits.max_efficiency_drop is not None and e0 is not None and e1 is not None and e0 - e1 > limits.max_efficiency_drop:
                problems.append(f"efficiency {MINUS}{(e0 - e1) * 100:.2f} pp (limit {limits.max_efficiency_drop * 100:g} pp)")
            if limits.max_loss_increase is not None and l0 and l1 is not None and l1 / l0 - 1 > limits.max_loss_increase:
                problems.append(f"final loss {_pct(l1 / l0 - 1)} (limit +{limits.max_loss_increase * 100:g}%)")
        cells.append(CellComparison(cell_id, old, new, tuple(problems), tuple(warnings)))
    return Comparison(tuple(cells), limits)


def _cell(value: float | None, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def _change(old: float | None, new: float | None, kind: str) -> str:
    if old is None or new is None:
        return ""
    if kind == "pp":
        diff = (new - old) * 100
        return f" ({'+' if diff >= 0 else MINUS}{abs(diff):.2f} pp)"
    if not old:
        return ""
    return f" ({_pct(new / old - 1)})"


def render_comparison(comparison: Comparison) -> str:
    """A markdown table of every cell, then the regressions, one per line."""
    lines = [
        "| cell | train time (s) base → cand | efficiency base → cand | final loss base → cand | verdict |",
        "| --- | --- | --- | --- | --- |",
    ]
    for cell in comparison.cells:
        (t0, e0, l0), (t1, e1, l1) = _figures(cell.baseline), _figures(cell.candidate)
        lines.append(
            f"| `{cell.cell_id}` "
            f"| {_cell(t0, '.1f')} → {_cell(t1, '.1f')}{_change(t0, t1, 'pct')} "
            f"| {_cell(e0, '.2%')} → {_cell(e1, '.2%')}{_change(e0, e1, 'pp')} "
            f"| {_cell(l0, '.3f')} → {_cell(l1, '.3f')}{_change(l0, l1, 'pct')} "
            f"| {cell.verdict} |"
        )
    regressions = [cell for cell in comparison.cells if cell.problems]
    warnings = [cell for cell in comparison.cells if cell.warnings]
    lines.append("")
    for cell in warnings:
        lines.append(f"warning: {cell.cell_id}: {'; '.join(cell.warnings)}")
    if regressions:
        lines.append(f"{len(regressions)} regression(s):")
        lines += [f"- {cell.cell_id}: {'; '.join(cell.problems)}" for cell in regressions]
    else:
        compared = sum(cell.baseline is not None and cell.candidate is not None for cell in comparison.cells)
        lines.append(f"no regression in {compared} compared cell(s).")
    return "\n".join(lines) + "\n"
