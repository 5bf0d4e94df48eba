"""The answer of a table in one line: how much faster than padding, at what cost in held-out loss.

Pure, for the board and the terminal. Per table (`tables.Table`) the verdict
names its fastest strategy against the padding row of the same table:

  synth-470 × tiny-70b: bfd 1.82× faster (steady tokens/s), held-out loss +0.535 ±0.010 (worse*, 3 seeds) — timings idle

Speed is steady tokens/s (real tokens per second at the median step after the
warm-up) when every run has it, else train time; quality is the held-out
loss, its difference from padding paired by seed (`core.intervals`), called
worse or better only when its 95% interval excludes zero (`*`). Timings from
runs on a loaded machine are named, since they are not comparable.

`choice` answers "the fastest strategy that costs no quality beyond noise":
the fastest strategy faster than padding whose held-out loss is not
significantly worse, or "none" with the reason, or "undecided" when one seed
gives no interval to judge the loss by.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from axolotl_packing_bench.constants import DEFAULT_ATTENTION, SEED_AXIS
from axolotl_packing_bench.core.intervals import Estimate, difference_interval
from axolotl_packing_bench.report.tables import Table, group_tables, load_of, processes_of, seed_of, values_by_seed
from axolotl_packing_bench.results.sanity import figure
from axolotl_packing_bench.results.store import RunResult, latest_per_run

NAMED_LOADED = 3
"""How many loaded runs a verdict names before it only counts the rest."""


def _steady(run: RunResult) -> object:
    return figure(run, "training", "steady_real_tokens_per_s")


def _runtime(run: RunResult) -> object:
    return figure(run, "training", "runtime_s")


def _heldout(run: RunResult) -> object:
    return figure(run, "heldout", "loss")


def _mean(values: dict[str, float]) -> float:
    return sum(values.values()) / len(values)


def row_name(row: Sequence[RunResult]) -> str:
    """The strategy, with its attention when it is not the default and its training processes when there are
    several (`bfd (shared)`, `bfd (2 processes)`)."""
    strategy, attention = row[0].axes.get("strategy", "?"), row[0].axes.get("attention", DEFAULT_ATTENTION)
    processes = processes_of(row[0])
    notes = [attention] if attention != DEFAULT_ATTENTION else []
    notes += [f"{processes} processes"] if processes > 1 else []
    return f"{strategy} ({', '.join(notes)})" if notes else strategy


@dataclass(frozen=True)
class Speed:
    """How many times faster than padding (above 1: faster), and what it was measured by."""

    ratio: float
    basis: str

    def text(self) -> str:
        if self.ratio >= 1:
            return f"{self.ratio:.2f}× faster ({self.basis})"
        return f"{1 / self.ratio:.2f}× slower ({self.basis})"


def speed_against(row: Sequence[RunResult], baseline: Sequence[RunResult]) -> Speed | None:
    """The speed-up of `row` over the padding row: by steady tokens/s where both rows have it, else train time."""
    steady, base_steady = values_by_seed(_steady, row), values_by_seed(_steady, baseline)
    if len(steady) == len(row) and len(base_steady) == len(baseline) and _mean(base_steady) > 0:
        return Speed(_mean(steady) / _mean(base_steady), "steady tokens/s")
    runtime, base_runtime = values_by_seed(_runtime, row), values_by_seed(_runtime, baseline)
    if runtime and base_runtime and _mean(runtime) > 0:
        return Speed(_mean(base_runtime) / _mean(runtime), "train time")
    return None


def quality_against(row: Sequence[RunResult], baseline: Sequence[RunResult]) -> Estimate | None:
    """The held-out loss of `row` minus padding's, paired by seed (None when either row lacks it)."""
    values, base = values_by_seed(_heldout, row), values_by_seed(_heldout, baseline)
    return difference_interval(values, base) if values and base else None


def quality_word(estimate: Estimate) -> str:
    """`worse*`, `better*`, `within noise`, or `no interval` (one seed)."""
    if estimate.half_width is None:
        return "no interval"
    if not estimate.significant:
        return "within noise"
    return "worse*" if estimate.mean > 0 else "better*"


def quality_text(estimate: Estimate | None) -> str:
    if estimate is None:
        return "held-out loss not measured"
    spread = "" if estimate.half_width is None else f" ±{estimate.half_width:.3f}"
    seeds = f"{estimate.n} seed{'s' if estimate.n != 1 else ''}"
    return f"held-out loss {estimate.mean:+.3f}{spread} ({quality_word(estimate)}, {seeds})"


def timings_text(runs: Sequence[RunResult]) -> str:
    """`timings idle`, `timings loaded ⚠ (bfd seed 1; ...)`, or `machine load not measured`: the loaded
    runs are named when they are few, else the idle ones."""
    loads = [load_of(run) for run in runs]
    loaded = [run for run, load in zip(runs, loads, strict=True) if load]
    if not loaded:
        return "timings idle" if loads and all(load is False for load in loads) else "machine load not measured"
    if len(loaded) == len(runs):
        return f"timings loaded ⚠ (all {len(runs)} runs; not comparable)"
    idle = [run for run, load in zip(runs, loads, strict=True) if not load]
    if len(loaded) <= NAMED_LOADED or len(idle) > NAMED_LOADED:
        shown = loaded[:NAMED_LOADED]
        more = len(loaded) - len(shown)
        names = ", ".join(_run_name(run) for run in shown) + (f" and {more} more" if more else "")
        return f"timings loaded ⚠ ({len(loaded)} of {len(runs)} runs: {names}; not comparable)"
    return (
        f"timings loaded ⚠ ({len(loaded)} of {len(runs)} runs, all but "
        + ", ".join(_run_name(run) for run in idle)
        + "; not comparable)"
    )


def _run_name(run: RunResult) -> str:
    return f"{row_name([run])} {_seed_name(run)}"


def _seed_name(run: RunResult) -> str:
    seed = seed_of(run)
    return f"seed {seed}" if SEED_AXIS in run.axes else f"run {run.run_id}"


@dataclass(frozen=True)
class Verdict:
    """A table's verdict: `text` heads the table, `line` (with the table's name) goes to the terminal,
    `choice` to the summary on top."""

    table: str
    text: str
    choice: str
    loaded: bool

    @property
    def line(self) -> str:
        return f"{self.table}: {self.text}"


def verdict(table: Table) -> Verdict:
    """The verdict of one table (see the module docstring)."""
    runs = table.runs
    timings = timings_text(runs)
    loaded = any(load_of(run) for run in runs)
    baseline = table.baseline
    others = [(row, base) for row in table.rows if (base := table.baseline_of(row)) is not None]
    if baseline is None:
        return Verdict(
            table.name, f"no padding row, nothing to compare against — {timings}", "undecided: no padding row", loaded
        )
    if not others:
        return Verdict(table.name, f"only padding ran — {timings}", "undecided: only padding ran", loaded)
    judged = [(row, speed_against(row, base), quality_against(row, base)) for row, base in others]
    timed = [entry for entry in judged if entry[1] is not None]
    if not timed:
        return Verdict(table.name, f"no speed measured — {timings}", "undecided: no speed measured", loaded)
    row, speed, quality = max(timed, key=lambda entry: entry[1].ratio)
    text = f"{row_name(row)} {speed.text()}, {quality_text(quality)} — {timings}"
    return Verdict(table.name, text, _choice(timed, loaded), loaded)


def _choice(timed: list[tuple[Sequence[RunResult], Speed, Estimate | None]], loaded: bool) -> str:
    faster = sorted((entry for entry in timed if entry[1].ratio > 1), key=lambda entry: -entry[1].ratio)
    caveat = " (timings loaded ⚠)" if loaded else ""
    if not faster:
        return "none: no strategy is faster than padding" + caveat
    for row, speed, quality in faster:
        if quality is None:
            return f"undecided: {row_name(row)} is {speed.text()}, but its held-out loss is not measured{caveat}"
        if quality.half_width is None:
            return (
                f"undecided: {row_name(row)} is {speed.text()}, held-out loss {quality.mean:+.3f} over one seed "
                f"has no interval (add a seed axis){caveat}"
            )
        if not (quality.significant and quality.mean > 0):
            return f"{row_name(row)}: {speed.text()}, {quality_text(quality)}{caveat}"
    return "none: every faster strategy has a worse held-out loss beyond noise" + caveat


def verdicts(tables: Sequence[Table]) -> list[Verdict]:
    return [verdict(table) for table in tables]


def summary_lines(found: Sequence[Verdict]) -> list[str]:
    """The board's summary section: per table, the fastest strategy that costs no quality beyond noise."""
    if not found:
        return []
    lines = [
        "## Verdict",
        "",
        "Fastest strategy per table whose held-out loss is not worse than padding's beyond noise",
        "(95% interval over seeds, `*`: the interval excludes zero):",
        "",
    ]
    lines += [f"- **{entry.table}**: {entry.choice}" for entry in found]
    return lines + [""]


def verdict_lines(results: Iterable[RunResult], matrix: str | None = None) -> list[str]:
    """One verdict line per table of these results (the latest of each run), only `matrix`'s when given."""
    latest = [result for result in latest_per_run(results).values() if result.ok]
    if matrix is not None:
        latest = [result for result in latest if result.matrix == matrix]
    return [entry.line for entry in verdicts(group_tables(latest))]
