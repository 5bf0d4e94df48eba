"""The size sweep's figures: quality and time against padding, per model, across dataset sizes.

`sweep_series` turns results into the numbers that are plotted (pure, tested
as data); `plot_sweep` draws them with matplotlib (the `plot` extra), one PNG
per model size with two panels:

(a) held-out loss difference from padding (strategy minus padding, paired by
    seed, mean and 95% interval; below zero = better than padding) against
    dataset size, one line per strategy, with a zero line;
(b) training time as a fraction of padding's (mean over seeds of the per-seed
    ratio, with its 95% interval) against dataset size.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from axolotl_packing_bench.constants import BASELINE_STRATEGY
from axolotl_packing_bench.core.intervals import Estimate, difference_interval, mean_interval

SEED_AXIS = "seed"
QUALITY = ("heldout", "loss")
TIME = ("training", "runtime_s")


class SweepDataError(ValueError):
    """The results cannot be plotted as a sweep; one sentence naming what is missing."""


@dataclass(frozen=True)
class Point:
    """One strategy at one dataset size of one model."""

    model: str
    strategy: str
    dataset: str
    dataset_size: float
    quality: Estimate | None  # held-out loss minus padding's
    time_ratio: Estimate | None  # training time / padding's


def _size(label: object) -> float:
    from axolotl_packing_bench.report.leaderboard import _size_value

    return _size_value(label)


def _key(result) -> tuple[str, str, str]:
    return (str(result.axes.get("model", "?")), str(result.axes.get("dataset", "?")),
            str(result.axes.get("strategy", "?")))


def _metric(result, path: Sequence[str]) -> float | None:
    """The readable figure, else None: an impossible number (results.sanity) is never plotted."""
    from axolotl_packing_bench.results.sanity import number

    return number(result, *path)


def sweep_series(results: Iterable, *, source: str = "the results file") -> list[Point]:
    """Every (model, dataset, strategy) with a padding row to compare with, sorted for plotting.

    Raises:
        SweepDataError: no ok run, no padding run, or no held-out loss or training time at all.
    """
    from axolotl_packing_bench.results.store import latest_per_cell

    runs = [r for r in latest_per_cell(results).values() if r.ok]
    if not runs:
        raise SweepDataError(f"{source} has no successful run; run the sweep first "
                             "(packbench run --matrix recipes/matrices/paper-toy.yaml).")
    if not any(_metric(r, QUALITY) is not None for r in runs):
        raise SweepDataError(f"{source} has no held-out loss (metrics.heldout.loss); train with "
                             "packbench_heldout set, as recipes/matrices/paper-toy.yaml does.")
    if not any(_metric(r, TIME) is not None for r in runs):
        raise SweepDataError(f"{source} has no training time (metrics.training.runtime_s); record the runs "
                             "with the packbench plugin.")
    grouped: dict[tuple[str, str, str], dict[str, object]] = {}
    sizes: dict[str, float] = {}
    for run in runs:
        seed = str(run.axes.get(SEED_AXIS, run.cell_id))
        grouped.setdefault(_key(run), {})[seed] = run
        sizes[str(run.axes.get("dataset", "?"))] = _size(run.labels.get("dataset_size"))
    if not any(key[2] == BASELINE_STRATEGY for key in grouped):
        raise SweepDataError(f"{source} has no {BASELINE_STRATEGY} run; the sweep compares every strategy "
                             f"with {BASELINE_STRATEGY}, so add it to the strategy axis.")
    points = []
    for (model, dataset, strategy), by_seed in grouped.items():
        baseline = grouped.get((model, dataset, BASELINE_STRATEGY))
        if strategy == BASELINE_STRATEGY or baseline is None:
            continue
        quality = _paired(by_seed, baseline, QUALITY)
        seeds = sorted(set(by_seed) & set(baseline))
        ratios = [t / b for s in seeds if (t := _metric(by_seed[s], TIME)) is not None
                  and (b := _metric(baseline[s], TIME))]
        points.append(Point(model, strategy, dataset, sizes[dataset], quality,
                            mean_interval(ratios) if ratios else None))
    return sorted(points, key=lambda p: (_size_of_model(runs, p.model), p.model, p.strategy, p.dataset_size))


def _paired(by_seed: dict, baseline: dict, path: Sequence[str]) -> Estimate | None:
    values = {s: v for s, run in by_seed.items() if (v := _metric(run, path)) is not None}
    base = {s: v for s, run in baseline.items() if (v := _metric(run, path)) is not None}
    return difference_interval(values, base) if values and base else None


def _size_of_model(runs: Sequence, model: str) -> float:
    return next((_size(r.labels.get("model_size")) for r in runs if r.axes.get("model") == model), 0.0)


def series_table(points: Sequence[Point]) -> str:
    """The plotted numbers as markdown, one row per point (what the figures show, readable in review)."""
    lines = ["| model | strategy | dataset | Δ held-out loss vs padding (95% CI) | time / padding (95% CI) |",
             "| --- | --- | --- | --- | --- |"]

    def show(estimate: Estimate | None, digits: int) -> str:
        return "—" if estimate is None else estimate.text(digits)

    for p in points:
        ratio = "—" if p.time_ratio is None else (
            f"{p.time_ratio.mean:.2f}" + ("" if p.time_ratio.half_width is None else f" ±{p.time_ratio.half_width:.2f}"))
        lines.append(f"| {p.model} | {p.strategy} | {p.dataset} | {show(p.quality, 4)} | {ratio} |")
    return "\n".join(lines) + "\n"


def plot_sweep(points: Sequence[Point], out_dir: str | Path, *, name: str) -> list[Path]:
    """One PNG per model: `<out_dir>/<name>-<model>.png`; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for model in dict.fromkeys(p.model for p in points):
        mine = [p for p in points if p.model == model]
        fig, (quality_ax, time_ax) = plt.subplots(1, 2, figsize=(12, 4.6))
        for strategy in dict.fromkeys(p.strategy for p in mine):
            line = [p for p in mine if p.strategy == strategy]
            q = [p for p in line if p.quality is not None]
            if q:
                quality_ax.errorbar([p.dataset_size for p in q], [p.quality.mean for p in q],
                                    yerr=[p.quality.half_width or 0.0 for p in q], marker="o", capsize=3,
                                    label=strategy)
            t = [p for p in line if p.time_ratio is not None]
            if t:
                time_ax.errorbar([p.dataset_size for p in t], [p.time_ratio.mean for p in t],
                                 yerr=[p.time_ratio.half_width or 0.0 for p in t], marker="o", capsize=3,
                                 label=strategy)
        quality_ax.axhline(0.0, color="grey", lw=0.9)
        quality_ax.set_title(f"{model}: held-out loss minus padding's (95% CI over seeds)", fontsize=10)
        quality_ax.set_ylabel("Δ held-out loss (nats / token); < 0 is better")
        time_ax.axhline(1.0, color="grey", lw=0.9)
        time_ax.set_title(f"{model}: training time as a fraction of padding's", fontsize=10)
        time_ax.set_ylabel("time / padding's time")
        time_ax.set_ylim(bottom=0)
        sizes = sorted({p.dataset_size for p in mine})
        for ax in (quality_ax, time_ax):
            ax.set_xscale("log")
            ax.set_xticks(sizes, [f"{size:,.0f}" for size in sizes])
            ax.minorticks_off()
            ax.set_xlabel("dataset size (samples, log scale)")
            ax.legend(fontsize=8)
        fig.tight_layout()
        path = out / f"{name}-{model}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written
