"""Regression mode: compare a candidate results file with a baseline, cell by cell, like with like.

Each cell is compared on every ok repeat it has in each file. Cells are matched
by cell id, or with `match="axes"` by the cell id without its content hash
(`tiny-8b__synth-100__bfd__isolated`): a cell id hashes the cell's whole
config, so two configurations of one matrix (a changed recipe key) share no
cell id but do share their axis labels. The two files may come from two
environments (the same matrix on the current and the next Axolotl / torch /
transformers); the report heads with both environments' versions.

What is gated, per cell:

- **time**: with per-step times recorded on every repeat, the paired
  per-step rule of `paired_steps` (slowdown estimate beyond the limit and its
  95% lower bound above zero); otherwise the min/max rule on the
  steady-state step time (`training.median_step_s`, else the trainer's
  runtime): min(candidate) / max(baseline) - 1 > limit;
- **ratio to padding**: that time divided by the padding row of the same
  table, same repeat, same file (measured within one run), min/max rule;
- **held-out loss**: up by more than `heldout_tolerance` (absolute; a CPU
  rerun reproduces it to every digit, hence 1e-6) and, where a cell runs over
  several seeds (a `seed` axis), a change whose interval over the seeds
  excludes zero;
- **packing equivalence** (`metrics.equivalence`): failed in the candidate;
- efficiency down by more than `max_efficiency_drop` (percentage points) and
  the last step's train loss up by more than `max_loss_increase` (relative):
  a numerics check, not quality; both off unless given.

Also a regression: a cell ok in the baseline and failed in the candidate, a
gated figure the baseline has and the candidate lacks, any unreadable figure
(`results.sanity`: non-finite, zero or negative times, efficiency outside
(0, 1]) in either file, and a baseline cell missing from the candidate
(`allow_missing` turns the missing ones into warnings). The whole gate fails,
whatever the limits, when no cell was compared, and when a cell was measured
on a loaded machine (`metrics.runner.load.loaded`) unless `allow_loaded`.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from axolotl_packing_bench.constants import SEED_AXIS
from axolotl_packing_bench.core.environment import describe_versions
from axolotl_packing_bench.core.intervals import difference_interval
from axolotl_packing_bench.report.paired_steps import MIN_REPEATS, StepTest, paired_step_test
from axolotl_packing_bench.results.baseline import baseline_finder, is_baseline
from axolotl_packing_bench.results.sanity import figure, step_times, unreadable_figures
from axolotl_packing_bench.results.store import RunResult, latest_per_run

MINUS = "\u2212"
MATCH_ON = ("cell", "axes")
DEFAULT_MAX_SLOWDOWN = "15%"
DEFAULT_HELDOUT_TOLERANCE = 1e-6
RULE_PAIRED = "paired-steps"
RULE_MINMAX = "min-max"
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


def parse_threshold(text: str) -> float:
    """A threshold with its unit: `15%` -> 0.15, or a fraction <= 1 (`0.15`); ValueError for anything else.

    A bare number above 1 (`15`) is refused: it would mean 1,500%, almost always a typo for `15%`.
    """
    value = parse_fraction(text)
    if not str(text).strip().endswith("%") and value > 1:
        raise ValueError(text)
    if math.isinf(value):
        raise ValueError(text)
    return value


@dataclass(frozen=True)
class Limits:
    """Regression limits; None means not checked."""

    max_slowdown: float | None = 0.15
    max_efficiency_drop: float | None = None
    max_loss_increase: float | None = None
    heldout_tolerance: float | None = DEFAULT_HELDOUT_TOLERANCE
    allow_missing: bool = False
    allow_loaded: bool = False


@dataclass(frozen=True)
class Series:
    """One figure of one cell over its repeats in one file (values None where missing or unreadable)."""

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
    def spread(self) -> float | None:
        """(max - min) / median over the repeats; None (unknown) with fewer than 3 measurements."""
        values = self.readable
        if len(values) < MIN_REPEATS or not self.median:
            return None
        return (max(values) - min(values)) / self.median

    def to_dict(self) -> dict[str, Any]:
        return {"median": self.median, "n": len(self.values), "values": list(self.values)}


Pair = tuple[Series, Series]


@dataclass(frozen=True)
class CellComparison:
    """One cell's figures in baseline and candidate, and what regressed."""

    cell_id: str
    baseline: RunResult | None
    candidate: RunResult | None
    time_metric: str = "median_step_s"
    time: Pair = (Series(), Series())
    ratio: Pair = (Series(), Series())
    efficiency: Pair = (Series(), Series())
    loss: Pair = (Series(), Series())
    heldout: Pair = (Series(), Series())
    equivalence: tuple[bool | None, bool | None] = (None, None)
    rule: str = RULE_MINMAX
    steps: StepTest | None = None
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def compared(self) -> bool:
        return self.baseline is not None and self.candidate is not None

    @property
    def repeats(self) -> tuple[int, int]:
        return len(self.time[0].values), len(self.time[1].values)

    @property
    def spread(self) -> float | None:
        """The larger relative range of the two sides; None when either has fewer than 3 repeats."""
        sides = [series.spread for series in self.time]
        return None if None in sides else max(sides)  # type: ignore[type-var]

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
    refusals: tuple[str, ...] = ()
    seed_problems: tuple[str, ...] = ()
    versions: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
    loaded: tuple[str, ...] = ()

    @property
    def compared(self) -> int:
        return sum(cell.compared for cell in self.cells)

    @property
    def regressed(self) -> bool:
        return bool(self.refusals or self.seed_problems or any(cell.problems for cell in self.cells))

    @property
    def verdict(self) -> str:
        return "fail" if self.regressed else "pass"

    @property
    def few_repeats(self) -> tuple[CellComparison, ...]:
        return tuple(cell for cell in self.cells if cell.compared and min(cell.repeats) < MIN_REPEATS)


def _by_cell(results: Iterable[RunResult], match: str) -> dict[str, dict[int, RunResult]]:
    """match key -> repeat -> latest result of that repeat."""
    cells: dict[str, dict[int, RunResult]] = {}
    for (_, cell_id, repeat), result in latest_per_run(results).items():
        cells.setdefault(match_key(cell_id, match), {})[repeat] = result
    return cells


def _paddings(results: Iterable[RunResult]) -> Callable[[RunResult], RunResult | None]:
    """Each run's padding run (`results.baseline`, same matrix and repeat); a padding run is its own."""
    find = baseline_finder(
        latest_per_run(results).values(), lambda result: result.axes, also=lambda result: (result.matrix, result.repeat)
    )
    return lambda result: result if is_baseline(result.axes) else find(result)


def _readable(value: object) -> float | None:
    return value if isinstance(value, float) else None


def _has(results: Sequence[RunResult], *path: str) -> bool:
    return any(result.metric(*path) is not None for result in results)


def _series(results: Sequence[RunResult], *path: str) -> Series:
    """The readable figure of each repeat (None where missing or unreadable); empty when no repeat has it."""
    figures = [figure(result, *path) for result in results]
    if all(value is None for value in figures):
        return Series()
    return Series(tuple(_readable(value) for value in figures))


def _ratios(results: Sequence[RunResult], paddings: Callable[[RunResult], RunResult | None], metric: str) -> Series:
    values = []
    for result in results:
        padding = paddings(result)
        if padding is None or not padding.ok:
            continue
        own, base = _readable(figure(result, "training", metric)), _readable(figure(padding, "training", metric))
        values.append(own / base if own is not None and base is not None else None)
    return Series(tuple(values))


def _equivalence(results: Sequence[RunResult]) -> bool | None:
    """The packing-equivalence check over the repeats: True when every repeat that ran it came out as its
    attention promises (isolated passes, shared fails), False when one did not, None when none ran it."""
    outcomes = []
    for result in results:
        passed, expected = result.metric("equivalence", "passed"), result.metric("equivalence", "expected")
        if isinstance(passed, bool):
            outcomes.append(passed is (expected if isinstance(expected, bool) else True))
    return None if not outcomes else all(outcomes)


def _pct(value: float) -> str:
    return f"{'+' if value >= 0 else MINUS}{abs(value) * 100:.1f}%"


def worst_slowdown(pair: Pair) -> float | None:
    """min(candidate) / max(baseline) - 1: the slowdown every measurement agrees on."""
    base, cand = pair[0].readable, pair[1].readable
    if not base or not cand or not max(base):
        return None
    return min(cand) / max(base) - 1


def _step_test(old_ok: Sequence[RunResult], new_ok: Sequence[RunResult]) -> StepTest | None:
    """The paired per-step test when every ok repeat of both sides recorded readable step times."""
    base = [step_times(run) for run in old_ok]
    cand = [step_times(run) for run in new_ok]
    if not base or not cand or any(not isinstance(times, list) for times in (*base, *cand)):
        return None
    warmups = [run.metric("training", "warmup_steps") for run in (*old_ok, *new_ok)]
    warmup = max((value for value in warmups if isinstance(value, int) and not isinstance(value, bool)), default=0)
    return paired_step_test(base, cand, warmup=warmup)  # type: ignore[arg-type]


def _loaded(runs: Mapping[int, RunResult], side: str, cell_id: str) -> list[str]:
    return [
        f"{cell_id} ({side} repeat {repeat})"
        for repeat, run in sorted(runs.items())
        if run.ok and run.metric("runner", "load", "loaded") is True
    ]


def _unreadable(runs: Sequence[RunResult], side: str) -> list[str]:
    found: dict[str, str] = {}
    for run in runs:
        found.update(unreadable_figures(run))
    return [f"{path} unreadable in the {side} ({why})" for path, why in sorted(found.items())]


def _versions(results: Sequence[RunResult]) -> tuple[str, ...]:
    return tuple(sorted({describe_versions(result.metric("versions")) for result in results if result.ok}))


def _compare_cell(
    cell_id: str,
    old_runs: dict[int, RunResult],
    new_runs: dict[int, RunResult],
    limits: Limits,
    paddings: tuple[dict, dict],
) -> CellComparison:
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
    pairs: dict[str, Pair] = {
        "time": (_series(old_ok, "training", metric), _series(new_ok, "training", metric)),
        "ratio": (_ratios(old_ok, paddings[0], metric), _ratios(new_ok, paddings[1], metric)),
        "efficiency": (_series(old_ok, "packing", "efficiency"), _series(new_ok, "packing", "efficiency")),
        "loss": (_series(old_ok, "training", "final_train_loss"), _series(new_ok, "training", "final_train_loss")),
        "heldout": (_series(old_ok, "heldout", "loss"), _series(new_ok, "heldout", "loss")),
    }
    equivalence = (_equivalence(old_ok), _equivalence(new_ok))
    steps = _step_test(old_ok, new_ok) if old_ok and new_ok else None
    if old_ok and new_ok:
        problems += _unreadable(old_ok, "baseline") + _unreadable(new_ok, "candidate")
        paths = {
            "time": ("training", metric),
            "efficiency": ("packing", "efficiency"),
            "loss": ("training", "final_train_loss"),
            "heldout": ("heldout", "loss"),
        }
        checked = {
            "time": limits.max_slowdown,
            "efficiency": limits.max_efficiency_drop,
            "loss": limits.max_loss_increase,
            "heldout": limits.heldout_tolerance,
        }
        for key, path in paths.items():
            before, after = pairs[key]
            if checked[key] is None or not before.readable or after.complete:
                continue
            if all(run.metric(*path) is None for run in new_ok):
                (warnings if limits.allow_missing else problems).append(f"{'.'.join(path)} missing in the candidate")
        if equivalence[1] is None and equivalence[0] is not None:
            (warnings if limits.allow_missing else problems).append("equivalence missing in the candidate")
        if equivalence[1] is False:
            problems.append(
                "packing equivalence failed in the candidate (packed loss or gradient not as the attention "
                "promises: isolated must equal padded)"
            )
        if limits.max_slowdown is not None:
            label = f"steady-state time ({metric})" if metric == "median_step_s" else "train time"
            if steps is not None:
                if steps.regressed(limits.max_slowdown):
                    problems.append(
                        f"{label} {_pct(steps.slowdown)} paired by step (95% lower bound "
                        f"{_pct(steps.low)}; limit +{limits.max_slowdown * 100:g}%)"
                    )
            else:
                worst = worst_slowdown(pairs["time"])
                if worst is not None and worst > limits.max_slowdown:
                    problems.append(f"{label} {_pct(worst)} beyond the spread (limit +{limits.max_slowdown * 100:g}%)")
            worst = worst_slowdown(pairs["ratio"])
            if worst is not None and worst > limits.max_slowdown:
                problems.append(
                    f"time relative to padding {_pct(worst)} beyond the spread (limit +{limits.max_slowdown * 100:g}%)"
                )
        before, after = pairs["efficiency"]
        if (
            limits.max_efficiency_drop is not None
            and before.median is not None
            and after.median is not None
            and before.median - after.median > limits.max_efficiency_drop
        ):
            problems.append(
                f"efficiency {MINUS}{(before.median - after.median) * 100:.2f} pp "
                f"(limit {limits.max_efficiency_drop * 100:g} pp)"
            )
        before, after = pairs["heldout"]
        if (
            limits.heldout_tolerance is not None
            and before.median is not None
            and after.median is not None
            and after.median - before.median > limits.heldout_tolerance
        ):
            problems.append(
                f"held-out loss +{after.median - before.median:.3g} (tolerance {limits.heldout_tolerance:g})"
            )
        before, after = pairs["loss"]
        if (
            limits.max_loss_increase is not None
            and before.median
            and after.median is not None
            and after.median / before.median - 1 > limits.max_loss_increase
        ):
            problems.append(
                f"last-step train loss (numerics check) {_pct(after.median / before.median - 1)} "
                f"(limit +{limits.max_loss_increase * 100:g}%)"
            )
    return CellComparison(
        cell_id,
        old,
        new,
        metric,
        pairs["time"],
        pairs["ratio"],
        pairs["efficiency"],
        pairs["loss"],
        pairs["heldout"],
        equivalence,
        RULE_PAIRED if steps is not None else RULE_MINMAX,
        steps,
        tuple(problems),
        tuple(warnings),
    )


def _seed_groups(results: Iterable[RunResult]) -> dict[tuple, dict[str, float]]:
    """(matrix, axes without seed) -> seed -> median held-out loss over the repeats, for cells with a seed axis."""
    values: dict[tuple, dict[str, list[float]]] = {}
    for result in latest_per_run(results).values():
        seed = result.axes.get(SEED_AXIS)
        loss = _readable(figure(result, "heldout", "loss"))
        if result.ok and seed is not None and loss is not None:
            key = (result.matrix, tuple(sorted((k, v) for k, v in result.axes.items() if k != SEED_AXIS)))
            values.setdefault(key, {}).setdefault(str(seed), []).append(loss)
    return {key: {seed: statistics.median(losses) for seed, losses in seeds.items()} for key, seeds in values.items()}


def _seed_problems(baseline: Iterable[RunResult], candidate: Iterable[RunResult]) -> list[str]:
    """Held-out loss over seeds: a rise whose 95% interval (paired by seed) excludes zero."""
    base, cand = _seed_groups(baseline), _seed_groups(candidate)
    problems = []
    for key in sorted(set(base) & set(cand)):
        if len(base[key]) < 2 or len(cand[key]) < 2:
            continue
        change = difference_interval(cand[key], base[key])
        if change.mean > 0 and change.significant:
            label = "/".join(str(value) for _, value in key[1])
            problems.append(f"{label}: held-out loss over {change.n} seeds {change.text(4)} beyond the seeds' interval")
    return problems


def compare_results(
    baseline: Iterable[RunResult], candidate: Iterable[RunResult], limits: Limits, match: str = "cell"
) -> Comparison:
    """Compare every cell (matched on `match`: "cell" or "axes") over its ok repeats; pure."""
    baseline, candidate = list(baseline), list(candidate)
    base, cand = _by_cell(baseline, match), _by_cell(candidate, match)
    paddings = (_paddings(baseline), _paddings(candidate))
    cells = tuple(
        _compare_cell(cell_id, base.get(cell_id, {}), cand.get(cell_id, {}), limits, paddings)
        for cell_id in sorted(set(base) | set(cand))
    )
    loaded = [
        label
        for cell_id in sorted(set(base) | set(cand))
        for label in (
            *_loaded(base.get(cell_id, {}), "baseline", cell_id),
            *_loaded(cand.get(cell_id, {}), "candidate", cell_id),
        )
    ]
    refusals = []
    if not any(cell.compared for cell in cells):
        refusals.append(
            "no cell was compared (the two files share no cell); a gate that compares nothing fails: "
            "check that the candidate ran the baseline's matrix (or try --match axes)."
        )
    if loaded and not limits.allow_loaded:
        refusals.append(
            f"{len(loaded)} run(s) were measured on a loaded machine, so their times are not "
            f"comparable: {', '.join(loaded)}; rerun them on an idle machine, or pass --allow-loaded "
            "to accept them."
        )
    return Comparison(
        cells,
        limits,
        tuple(refusals),
        tuple(_seed_problems(baseline, candidate)),
        (_versions(baseline), _versions(candidate)),
        tuple(loaded),
    )


def _value(series: Series, fmt: str) -> str:
    if not series.values:
        return "—"
    if series.median is None:
        return "unreadable"
    text = format(series.median, fmt)
    return text + (f" (n={len(series.values)})" if len(series.values) > 1 else "")


def _change(pair: Pair, kind: str = "pct") -> str:
    before, after = pair[0].median, pair[1].median
    if before is None or after is None:
        return "—"
    if kind == "pp":
        diff = (after - before) * 100
        return f"{'+' if diff >= 0 else MINUS}{abs(diff):.2f} pp"
    if kind == "abs":
        diff = after - before
        return f"{'+' if diff >= 0 else MINUS}{abs(diff):.2g}" if diff else "±0"
    return _pct(after / before - 1) if before else "—"


def _mark(value: bool | None) -> str:
    return "—" if value is None else "✓" if value else "✗"


def _spread(cell: CellComparison) -> str:
    if not cell.time[0].values or not cell.time[1].values:
        return "—"
    return "unknown" if cell.spread is None else f"±{cell.spread * 100:.1f}%"


def _paired(cell: CellComparison) -> str:
    if cell.steps is None:
        return "—"
    return f"{_pct(cell.steps.slowdown)} [{_pct(cell.steps.low)}, {_pct(cell.steps.high)}]"


def versions_line(comparison: Comparison) -> str:
    """`baseline: axolotl 0.19.0, torch ...; candidate: ...` (each side's environments)."""
    base, cand = comparison.versions
    return f"baseline: {' | '.join(base) or 'unknown'}; candidate: {' | '.join(cand) or 'unknown'}"


def render_comparison(comparison: Comparison) -> str:
    """The environments, a markdown table of every cell (baseline → candidate, change, spread, verdict), the verdict."""
    limits = comparison.limits
    lines = [
        f"Environments: {versions_line(comparison)}",
        "",
        "| cell | time (s) base → cand | change | spread | paired steps [90% interval] "
        "| ÷ padding base → cand | change "
        "| efficiency base → cand | held-out loss base → cand | change | equivalence | last-step loss (numerics) "
        "base → cand | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for cell in comparison.cells:
        label = "" if cell.time_metric == "median_step_s" or not cell.time[0].values else " (runtime)"
        lines.append(
            f"| `{cell.cell_id}` "
            f"| {_value(cell.time[0], '.4g')} → {_value(cell.time[1], '.4g')}{label} | {_change(cell.time)} "
            f"| {_spread(cell)} | {_paired(cell)} "
            f"| {_value(cell.ratio[0], '.3f')} → {_value(cell.ratio[1], '.3f')} | {_change(cell.ratio)} "
            f"| {_value(cell.efficiency[0], '.2%')} → {_value(cell.efficiency[1], '.2%')} "
            f"| {_value(cell.heldout[0], '.6f')} → {_value(cell.heldout[1], '.6f')} | {_change(cell.heldout, 'abs')} "
            f"| {_mark(cell.equivalence[0])} → {_mark(cell.equivalence[1])} "
            f"| {_value(cell.loss[0], '.3f')} → {_value(cell.loss[1], '.3f')} "
            f"| {cell.verdict} |"
        )
    lines += ["", rule_text(limits)]
    few = comparison.few_repeats
    if few:
        lines.append(
            f"spread unknown: {', '.join(cell.cell_id for cell in few)} "
            f"{'has' if len(few) == 1 else 'have'} fewer than {MIN_REPEATS} repeats on a side, so the "
            "run-to-run spread is not measured; rule used instead: "
            + "; ".join(f"{cell.cell_id}: {_fallback(cell)}" for cell in few)
            + "."
        )
    for cell in comparison.cells:
        if cell.warnings:
            lines.append(f"warning: {cell.cell_id}: {'; '.join(cell.warnings)}")
    for refusal in comparison.refusals:
        lines.append(f"gate failed: {refusal}")
    regressions = [cell for cell in comparison.cells if cell.problems]
    if regressions or comparison.seed_problems:
        lines.append(f"{len(regressions) + len(comparison.seed_problems)} regression(s):")
        lines += [f"- {cell.cell_id}: {'; '.join(cell.problems)}" for cell in regressions]
        lines += [f"- {problem}" for problem in comparison.seed_problems]
    elif not comparison.refusals:
        lines.append(f"no regression in {comparison.compared} compared cell(s).")
    lines.append(f"verdict: {comparison.verdict}")
    return "\n".join(lines) + "\n"


def _fallback(cell: CellComparison) -> str:
    if cell.steps is not None:
        return "paired steps, bootstrap over the steps only"
    if max(cell.repeats) <= 1:
        return "the plain change of one measurement against the limit"
    return "min(candidate) / max(baseline) over the repeats there are"


def rule_text(limits: Limits) -> str:
    """One paragraph saying what fails, with the limits in force."""
    slowdown = "off" if limits.max_slowdown is None else f"+{limits.max_slowdown * 100:g}%"
    heldout = "off" if limits.heldout_tolerance is None else f"{limits.heldout_tolerance:g}"
    return (
        f"time: the steady-state step time (median after the warm-up), else the trainer's runtime. Slowdown limit "
        f"{slowdown}: with per-step times on every repeat a cell fails when its slowdown paired by step index "
        "exceeds the limit and the bootstrap's 95% lower bound is above zero (interval over blocks of steps, and "
        "over repeats from 5 a side); "
        "without them, when min(candidate) / max(baseline) − 1 exceeds it; the ratio to padding uses the latter. "
        f"spread: (max − min) / median over ≥ {MIN_REPEATS} repeats. Held-out loss tolerance {heldout} (absolute). "
        "The last-step train loss is a numerics check, gated only with --max-loss-increase."
    )
