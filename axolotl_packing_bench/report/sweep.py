"""The size sweep's figures: quality and time against padding, per model, across dataset sizes.

`sweep_series` turns results into the numbers that are plotted (pure, tested
as data); `plot_sweep` draws them with matplotlib (the `plot` extra) in one
PNG, a column per model on shared y-axes, with two rows of panels:

(a) held-out loss difference from padding (strategy minus padding, paired by
    seed, mean and 95% interval; below zero = better than padding) against
    dataset size, one line per strategy (`bfd (shared)` apart from isolated `bfd`, in its colour, dashed and
    hollow), with a zero line; one legend below the panels;
(b) training time as a fraction of padding's (mean over seeds of the per-seed
    ratio, with its 95% interval) against dataset size.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from axolotl_packing_bench.constants import BASELINE_STRATEGY, DEFAULT_ATTENTION
from axolotl_packing_bench.core.intervals import Estimate, difference_interval, mean_interval
from axolotl_packing_bench.results.baseline import baseline_finder, is_baseline, pairing_key

QUALITY = ("heldout", "loss")
LEGEND_COLUMNS = 4
"""Series per row of the figure's legend."""
TIME = ("training", "runtime_s")


class SweepDataError(ValueError):
    """The results cannot be plotted as a sweep; one sentence naming what is missing."""


@dataclass(frozen=True)
class Point:
    """One series (`series_name`: a strategy, with a non-default attention) at one dataset size of one model."""

    model: str
    strategy: str
    dataset: str
    dataset_size: float
    quality: Estimate | None  # held-out loss minus padding's
    time_ratio: Estimate | None  # training time / padding's
    model_size: str | None = None  # the model's size label (for an embedded model, the one it stands for)


def _size(label: object) -> float:
    from axolotl_packing_bench.report.tables import size_value as _size_value

    return _size_value(label)


def series_name(axes: Mapping[str, Any]) -> str:
    """A plotted series: the strategy, with its attention when not the default, so `bfd` (isolated) and
    `bfd (shared)` are two lines, never mixed into one."""
    strategy = str(axes.get("strategy", "?"))
    attention = str(axes.get("attention", DEFAULT_ATTENTION))
    return strategy if attention == DEFAULT_ATTENTION else f"{strategy} ({attention})"


def _key(result) -> tuple[str, str, str]:
    return (str(result.axes.get("model", "?")), str(result.axes.get("dataset", "?")), series_name(result.axes))


def _metric(result, path: Sequence[str]) -> float | None:
    """The readable figure, else None: an impossible number (results.sanity) is never plotted."""
    from axolotl_packing_bench.results.sanity import number

    return number(result, *path)


def sweep_series(results: Iterable, *, source: str = "the results file") -> list[Point]:
    """Every (model, dataset, strategy) with a padding row to compare with, sorted for plotting.

    Raises:
        SweepDataError: no ok run, no padding run, or no held-out loss or training time at all.
    """
    from axolotl_packing_bench.results.store import latest_per_run

    runs = [r for r in latest_per_run(results).values() if r.ok]
    if not runs:
        raise SweepDataError(
            f"{source} has no successful run; run the sweep first "
            "(packbench run --matrix recipes/matrices/paper-toy.yaml)."
        )
    if not any(_metric(r, QUALITY) is not None for r in runs):
        raise SweepDataError(
            f"{source} has no held-out loss (metrics.heldout.loss); train with "
            "packbench_heldout set, as recipes/matrices/paper-toy.yaml does."
        )
    if not any(_metric(r, TIME) is not None for r in runs):
        raise SweepDataError(
            f"{source} has no training time (metrics.training.runtime_s); record the runs with the packbench plugin."
        )
    grouped: dict[tuple[str, str, str], dict[str, object]] = {}
    sizes: dict[str, float] = {}
    for run in runs:
        grouped.setdefault(_key(run), {})[pairing_key(run)] = run
        sizes[str(run.axes.get("dataset", "?"))] = _size(run.labels.get("dataset_size"))
    baseline_of = baseline_finder(runs, lambda run: run.axes, over_seeds=True)
    if not any(is_baseline(run.axes) for run in runs):
        raise SweepDataError(
            f"{source} has no {BASELINE_STRATEGY} run; the sweep compares every strategy "
            f"with {BASELINE_STRATEGY}, so add it to the strategy axis."
        )
    points = []
    for (model, dataset, strategy), by_seed in grouped.items():
        padding = baseline_of(next(iter(by_seed.values())))
        if padding is None:
            continue
        baseline = grouped[_key(padding)]
        quality = _paired(by_seed, baseline, QUALITY)
        seeds = sorted(set(by_seed) & set(baseline))
        pairs = [(by_seed[s], baseline[s]) for s in seeds]
        if not pairs and len(by_seed) == 1 and len(baseline) == 1:  # no seed axis: the one run of each
            pairs = [(next(iter(by_seed.values())), next(iter(baseline.values())))]
        ratios = [t / b for run, base in pairs if (t := _metric(run, TIME)) is not None and (b := _metric(base, TIME))]
        size_label = next(iter(by_seed.values())).labels.get("model_size")
        points.append(
            Point(
                model, strategy, dataset, sizes[dataset], quality, mean_interval(ratios) if ratios else None, size_label
            )
        )
    return sorted(points, key=lambda p: (_size_of_model(runs, p.model), p.model, p.strategy, p.dataset_size))


def _paired(by_seed: dict, baseline: dict, path: Sequence[str]) -> Estimate | None:
    values = {s: v for s, run in by_seed.items() if (v := _metric(run, path)) is not None}
    base = {s: v for s, run in baseline.items() if (v := _metric(run, path)) is not None}
    return difference_interval(values, base) if values and base else None


def _size_of_model(runs: Sequence, model: str) -> float:
    return next((_size(r.labels.get("model_size")) for r in runs if r.axes.get("model") == model), 0.0)


def series_table(points: Sequence[Point]) -> str:
    """The plotted numbers as markdown, one row per point (what the figures show, readable in review)."""
    lines = [
        "| model | strategy | dataset | Δ held-out loss vs padding (95% CI) | time / padding (95% CI) |",
        "| --- | --- | --- | --- | --- |",
    ]

    def show(estimate: Estimate | None, digits: int) -> str:
        return "—" if estimate is None else estimate.text(digits)

    for p in points:
        ratio = (
            "—"
            if p.time_ratio is None
            else (
                f"{p.time_ratio.mean:.2f}"
                + ("" if p.time_ratio.half_width is None else f" ±{p.time_ratio.half_width:.2f}")
            )
        )
        lines.append(f"| {p.model} | {p.strategy} | {p.dataset} | {show(p.quality, 4)} | {ratio} |")
    return "\n".join(lines) + "\n"


MARKERS = ("o", "s", "^", "D", "v", "P", "X")
COINCIDE = 0.002
"""Two strategies whose plotted means all lie within this of each other are named as one line in a note."""


def loaded_runs(results: Iterable) -> tuple[int, int]:
    """(runs measured on a loaded machine, runs) among the latest ok run of each cell."""
    from axolotl_packing_bench.results.store import latest_per_cell

    runs = [r for r in latest_per_cell(results).values() if r.ok]
    return sum(r.metric("runner", "load", "loaded") is True for r in runs), len(runs)


def coinciding(points: Sequence[Point], attribute: str, tolerance: float = COINCIDE) -> list[tuple[str, str]]:
    """Pairs (later, earlier) of strategies of one model whose `attribute` means coincide within `tolerance`
    at every dataset size: drawn over each other, so the figure says so."""
    by_strategy: dict[str, dict[str, float]] = {}
    for p in points:
        estimate = getattr(p, attribute)
        if estimate is not None:
            by_strategy.setdefault(p.strategy, {})[p.dataset] = estimate.mean
    names, pairs = list(by_strategy), []
    for index, later in enumerate(names):
        for earlier in names[:index]:
            a, b = by_strategy[later], by_strategy[earlier]
            if set(a) == set(b) and all(abs(a[key] - b[key]) <= tolerance for key in a):
                pairs.append((later, earlier))
                break
    return pairs


def plot_sweep(points: Sequence[Point], out_dir: str | Path, *, name: str, caption: str | None = None) -> list[Path]:
    """One PNG, `<out_dir>/<name>.png`: a column per model (smallest first), the held-out loss difference on
    top and the time ratio below, each row on one shared y-axis so the models compare at a glance. Strategies
    get their own marker and a small x offset; strategies drawn over each other are named in a note;
    `caption` (e.g. that the times were measured on a loaded machine) goes under the figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    models = list(dict.fromkeys(p.model for p in points))
    strategies = list(dict.fromkeys(p.strategy for p in points))
    families = list(dict.fromkeys(_family(strategy) for strategy in strategies))
    rows = [
        ("quality", "held-out loss minus padding's", "Δ held-out loss (nats / token); < 0 is better", 0.0),
        ("time_ratio", "training time / padding's", "time / padding's time", 1.0),
    ]
    rows = [row for row in rows if any(getattr(p, row[0]) is not None for p in points)]  # no empty panels
    fig, axes = plt.subplots(
        len(rows), len(models), figsize=(5.2 * len(models), 3.9 * len(rows) + 0.9), sharey="row", squeeze=False
    )
    sizes = sorted({p.dataset_size for p in points})
    legend: dict[str, Any] = {}
    for column, model in enumerate(models):
        mine = [p for p in points if p.model == model]
        for row, (attribute, title, ylabel, reference) in enumerate(rows):
            ax = axes[row][column]
            for index, strategy in enumerate(strategies):
                drawn = [p for p in mine if p.strategy == strategy and getattr(p, attribute) is not None]
                if not drawn:
                    continue
                family = families.index(_family(strategy))
                twin = strategy != _family(strategy)  # another attention: its strategy's colour, dashed, hollow
                offset = 1 + 0.035 * (index - (len(strategies) - 1) / 2)  # log x: a constant nudge per strategy
                handle = ax.errorbar(
                    [p.dataset_size * offset for p in drawn],
                    [getattr(p, attribute).mean for p in drawn],
                    yerr=[getattr(p, attribute).half_width or 0.0 for p in drawn],
                    marker=MARKERS[family % len(MARKERS)],
                    markersize=5,
                    markerfacecolor="white" if twin else f"C{family}",
                    capsize=3,
                    lw=1.3,
                    linestyle="--" if twin else "-",
                    color=f"C{family}",
                    label=strategy,
                )
                legend.setdefault(strategy, handle)
            ax.axhline(reference, color="grey", lw=0.9)
            notes = [f"{later} = {earlier} within {COINCIDE:g}" for later, earlier in coinciding(mine, attribute)]
            note = "".join("\n" + text for text in notes)  # under the title: never under the data or a legend
            ax.set_title(f"{_model_label(mine)}\n{title}{note}", fontsize=9.5)
            ax.set_xscale("log")
            ax.set_xticks(sizes, [f"{size:,.0f}" for size in sizes])
            ax.minorticks_off()
            ax.set_xlabel("dataset size (samples, log scale)")
            if column == 0:
                ax.set_ylabel(ylabel)
    if legend:  # one legend for the figure, below the panels, in the order the series were drawn
        order = [name for name in strategies if name in legend]
        fig.legend(
            [legend[name] for name in order],
            order,
            loc="lower center",
            ncol=min(len(order), LEGEND_COLUMNS),
            fontsize=8.5,
            bbox_to_anchor=(0.5, 0.035 if caption else 0.0),
            frameon=False,
        )
    fig.suptitle("Packing against padding by model and dataset size (95% intervals over seeds)", fontsize=11)
    if caption:
        fig.text(0.5, 0.01, caption, ha="center", fontsize=9, color="firebrick")
    legend_rows = -(-len(legend) // LEGEND_COLUMNS)
    fig.tight_layout(rect=(0, (0.04 if caption else 0) + 0.035 * legend_rows, 1, 1))
    path = out / f"{name}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]


def _family(strategy: str) -> str:
    """The strategy a series belongs to: `bfd (shared)` is bfd's, drawn in bfd's colour."""
    return strategy.split(" (", 1)[0]


def _model_label(points: Sequence[Point]) -> str:
    from axolotl_packing_bench.matrix.labels import model_title

    return model_title(points[0].model, points[0].model_size) if points else "?"
