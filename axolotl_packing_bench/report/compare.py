"""Regression mode: compare a candidate results file with a baseline, cell by cell, like with like.

Each cell is compared on every ok repeat it has in each file. Cells are matched
by cell id, or with `match="axes"` by the cell id without its content hash
(`tiny-8b__synth-100__bfd__isolated`): a cell id hashes the cell's whole
config, so two configurations of one matrix (a changed recipe key) share no
cell id but do share their axis labels.

- **time**: the steady-state step time (`training.median_step_s`, the median
  after the warm-up); when either side lacks it, both sides' trainer runtime
  (`training.runtime_s`) instead, and the report says which;
- **ratio to padding**: that time divided by the padding row of the same
  table (every other axis equal), same repeat, same file: a ratio measured
  within one run, which holds across machines.

A slowdown counts only beyond the measured spread: with repeats, the cell
regresses when its *fastest* candidate measurement is slower than its
*slowest* baseline one by more than `max_slowdown` (min(cand) / max(base) - 1
> limit), on the time or on the ratio. With one repeat each this is the plain
change. `spread` in the report is the relative range (max - min) / median of
the measurements, the larger of the two sides.

Also a regression: efficiency down by more than `max_efficiency_drop`
(percentage points), final train loss up by more than `max_loss_increase`
(relative), a cell ok in the baseline and failed in the candidate, a metric
the baseline has and the candidate lacks or cannot be read (missing, null,
NaN, text), and a baseline cell missing from the candidate. `allow_missing`
turns the last two into warnings. A limit left as None is not checked.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from axolotl_packing_bench.results.baseline import baseline_finder, is_baseline
from axolotl_packing_bench.results.store import RunResult, latest_per_run

MINUS = "\u2212"
MATCH_ON = ("cell", "axes")
_CONTENT_HASH = re.compile(r"-[0-9a-f]{8}$")


def match_key(cell_id: str, match: str = "cell") -> str:
    """The key a cell is matched on: its id, or (`axes`) its id without the content hash."""
    if match not in MATCH_ON:
        raise ValueError(match)
    return cell_id if match == "cell" else _CONTENT_HASH.sub("", cell_id)


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
class Series:
    """One figure of one cell over its repeats in one file (values None where unreadable)."""

    values: tuple[float | None, ...] = ()

    @property
    def readable(self) -> tuple[float, ...]:
        return tuple(value for value in self.values if value is not None)

    @property
    def complete(self) -> bool:
        return bool(self.values) and len(self.readable) == len(self.values)

    @property
    def median(self) -> float | None:
        return statistics.median(self.readable) if self.readable else None

    @property
    def spread(self) -> float:
        """(max - min) / median; 0 for a single measurement."""
        values = self.readable
        if len(values) < 2 or not self.median:
            return 0.0
        return (max(values) - min(values)) / self.median


@dataclass(frozen=True)
class CellComparison:
    """One cell's figures in baseline and candidate, and what regressed."""

    cell_id: str
    baseline: RunResult | None
    candidate: RunResult | None
    time_metric: str = "median_step_s"
    time: tuple[Series, Series] = (Series(), Series())
    ratio: tuple[Series, Series] = (Series(), Series())
    efficiency: tuple[Series, Series] = (Series(), Series())
    loss: tuple[Series, Series] = (Series(), Series())
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


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or math.isinf(value):
        return None
    return float(value)


def _by_cell(results: Iterable[RunResult], match: str) -> dict[str, dict[int, RunResult]]:
    """match key -> repeat -> latest result of that repeat."""
    cells: dict[str, dict[int, RunResult]] = {}
    for (_, cell_id, repeat), result in latest_per_run(results).items():
        cells.setdefault(match_key(cell_id, match), {})[repeat] = result
    return cells


def _paddings(results: Iterable[RunResult]) -> Callable[[RunResult], RunResult | None]:
    """Each run's padding run (`results.baseline`, same matrix and repeat); a padding run is its own."""
    find = baseline_finder(latest_per_run(results).values(), lambda result: result.axes,
                           also=lambda result: (result.matrix, result.repeat))
    return lambda result: result if is_baseline(result.axes) else find(result)


def _has(results: Sequence[RunResult], *path: str) -> bool:
    return any(result.metric(*path) is not None for result in results)


def _series(results: Sequence[RunResult], *path: str) -> Series:
    return Series(tuple(_number(result.metric(*path)) for result in results))


def _ratios(results: Sequence[RunResult], paddings: Callable[[RunResult], RunResult | None], metric: str) -> Series:
    values = []
    for result in results:
        padding = paddings(result)
        if padding is None or not padding.ok:
            continue
        own, base = _number(result.metric("training", metric)), _number(padding.metric("training", metric))
        values.append(own / base if own is not None and base else None)
    return Series(tuple(values))


def _pct(value: float) -> str:
    return f"{'+' if value >= 0 else MINUS}{abs(value) * 100:.1f}%"


def worst_slowdown(pair: tuple[Series, Series]) -> float | None:
    """min(candidate) / max(baseline) - 1: the slowdown every measurement agrees on."""
    base, cand = pair[0].readable, pair[1].readable
    if not base or not cand or not max(base):
        return None
    return min(cand) / max(base) - 1


def compare_results(baseline: Iterable[RunResult], candidate: Iterable[RunResult], limits: Limits,
                    match: str = "cell") -> Comparison:
    """Compare every cell (matched on `match`: "cell" or "axes") over its ok repeats; pure."""
    baseline, candidate = list(baseline), list(candidate)
    base, cand = _by_cell(baseline, match), _by_cell(candidate, match)
    base_pad, cand_pad = _paddings(baseline), _paddings(candidate)
    cells: list[CellComparison] = []
    for cell_id in sorted(set(base) | set(cand)):
        old_runs, new_runs = base.get(cell_id, {}), cand.get(cell_id, {})
        old = old_runs[max(old_runs)] if old_runs else None
        new = new_runs[max(new_runs)] if new_runs else None
        problems: list[str] = []
        warnings: list[str] = []
        old_ok = [run for _, run in sorted(old_runs.items()) if run.ok]
        new_ok = [run for _, run in sorted(new_runs.items()) if run.ok]
        failed = [run for _, run in sorted(new_runs.items()) if not run.ok]
        if new is None:
            (warnings if limits.allow_missing else problems).append("missing from the candidate")
        elif old_ok and failed:
            problems.append(f"{failed[-1].status} in the candidate: {failed[-1].reason or 'no reason recorded'}")
        metric = "median_step_s" if _has(old_ok or new_ok, "training", "median_step_s") else "runtime_s"
        pairs = {
            "time": (_series(old_ok, "training", metric), _series(new_ok, "training", metric)),
            "ratio": (_ratios(old_ok, base_pad, metric), _ratios(new_ok, cand_pad, metric)),
            "efficiency": (_series(old_ok, "packing", "efficiency"), _series(new_ok, "packing", "efficiency")),
            "loss": (_series(old_ok, "training", "final_train_loss"), _series(new_ok, "training", "final_train_loss")),
        }
        comparison = CellComparison(cell_id, old, new, metric, pairs["time"], pairs["ratio"], pairs["efficiency"], pairs["loss"])
        if old_ok and new_ok:
            paths = {"time": ("training", metric), "efficiency": ("packing", "efficiency"), "loss": ("training", "final_train_loss")}
            checked = {"time": limits.max_slowdown, "efficiency": limits.max_efficiency_drop, "loss": limits.max_loss_increase}
            for key, path in paths.items():
                before, after = pairs[key]
                if checked[key] is None or not before.readable or after.complete:
                    continue
                what = "missing" if all(run.metric(*path) is None for run in new_ok) else "unreadable"
                (warnings if limits.allow_missing else problems).append(f"{'.'.join(path)} {what} in the candidate")
            if limits.max_slowdown is not None:
                for key, label in (("time", f"steady-state time ({metric})" if metric == "median_step_s" else "train time"),
                                   ("ratio", "time relative to padding")):
                    worst = worst_slowdown(pairs[key])
                    if worst is not None and worst > limits.max_slowdown:
                        problems.append(f"{label} {_pct(worst)} beyond the spread (limit +{limits.max_slowdown * 100:g}%)")
            before, after = pairs["efficiency"]
            if limits.max_efficiency_drop is not None and before.median is not None and after.median is not None \
                    and before.median - after.median > limits.max_efficiency_drop:
                problems.append(f"efficiency {MINUS}{(before.median - after.median) * 100:.2f} pp (limit {limits.max_efficiency_drop * 100:g} pp)")
            before, after = pairs["loss"]
            if limits.max_loss_increase is not None and before.median and after.median is not None \
                    and after.median / before.median - 1 > limits.max_loss_increase:
                problems.append(f"final loss {_pct(after.median / before.median - 1)} (limit +{limits.max_loss_increase * 100:g}%)")
        cells.append(CellComparison(cell_id, old, new, comparison.time_metric, comparison.time, comparison.ratio,
                                    comparison.efficiency, comparison.loss, tuple(problems), tuple(warnings)))
    return Comparison(tuple(cells), limits)


def _value(series: Series, fmt: str) -> str:
    if not series.values:
        return "—"
    if series.median is None:
        return "unreadable" if series.values else "—"
    text = format(series.median, fmt)
    return text + (f" (n={len(series.values)})" if len(series.values) > 1 else "")


def _change(pair: tuple[Series, Series], kind: str = "pct") -> str:
    before, after = pair[0].median, pair[1].median
    if before is None or after is None:
        return "—"
    if kind == "pp":
        diff = (after - before) * 100
        return f"{'+' if diff >= 0 else MINUS}{abs(diff):.2f} pp"
    return _pct(after / before - 1) if before else "—"


def render_comparison(comparison: Comparison) -> str:
    """A markdown table of every cell (baseline → candidate, change, spread, verdict), then the problems."""
    lines = [
        "| cell | time (s) base → cand | change | spread | ÷ padding base → cand | change | efficiency base → cand | final loss base → cand | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for cell in comparison.cells:
        spread = max(cell.time[0].spread, cell.time[1].spread)
        label = "" if cell.time_metric == "median_step_s" or not cell.time[0].values else " (runtime)"
        lines.append(
            f"| `{cell.cell_id}` "
            f"| {_value(cell.time[0], '.4g')} → {_value(cell.time[1], '.4g')}{label} | {_change(cell.time)} "
            f"| {'±' + format(spread * 100, '.1f') + '%' if cell.time[0].values and cell.time[1].values else '—'} "
            f"| {_value(cell.ratio[0], '.3f')} → {_value(cell.ratio[1], '.3f')} | {_change(cell.ratio)} "
            f"| {_value(cell.efficiency[0], '.2%')} → {_value(cell.efficiency[1], '.2%')} "
            f"| {_value(cell.loss[0], '.3f')} → {_value(cell.loss[1], '.3f')} "
            f"| {cell.verdict} |"
        )
    regressions = [cell for cell in comparison.cells if cell.problems]
    warned = [cell for cell in comparison.cells if cell.warnings]
    lines.append("")
    lines.append("time: the steady-state step time (median after the warm-up) where both files have it, else the trainer's runtime; "
                 "spread: (max − min) / median over the repeats; a slowdown fails only when min(candidate) / max(baseline) − 1 "
                 "exceeds the limit.")
    for cell in warned:
        lines.append(f"warning: {cell.cell_id}: {'; '.join(cell.warnings)}")
    if regressions:
        lines.append(f"{len(regressions)} regression(s):")
        lines += [f"- {cell.cell_id}: {'; '.join(cell.problems)}" for cell in regressions]
    else:
        compared = sum(cell.baseline is not None and cell.candidate is not None for cell in comparison.cells)
        lines.append(f"no regression in {compared} compared cell(s).")
    return "\n".join(lines) + "\n"
