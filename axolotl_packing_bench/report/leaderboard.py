"""Render `LEADERBOARD.md` from results: pure, deterministic, grouped like the paper.

One table per matrix × dataset × model (× any other axis values), one row
per strategy and attention (padding first). Every figure of a non-padding row
shows its difference from the padding row of the same table in parentheses:

- time: `61.2 (−48%, 1.92×)`: percent change, then speed-up over padding;
- steps, samples/s, real tokens/s, peak memory: `120 (−40%)`;
- efficiency: `98.0% (+35.1 pp)`, in percentage points;
- losses and scores: `5.104 (+0.312)`, absolute.

Cells that differ only in their `seed` axis are one row: each figure is the
mean over the seeds with the half-width of its 95% interval (`3.214 ±0.012`),
and its difference from padding is taken seed by seed with its own interval,
marked `*` when that interval excludes zero (see `intervals`). Quality comes
first: the held-out loss (scored unpacked, the same way for every strategy)
and evaluation scores; the training loss of the last step is shown as what it
is, never as quality.

The best figure of each column is bold (lowest time, loss and memory;
highest throughput, efficiency and scores) when two or more rows have one.
Failed and timed-out cells are listed with their reasons at the end.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from axolotl_packing_bench.core.environment import describe_hardware, describe_versions
from axolotl_packing_bench.core.fileio import atomic_write_text
from axolotl_packing_bench.matrix.spec import CORE_AXES, strategy_sort_key
from axolotl_packing_bench.results.sanity import UNREADABLE, figure
from axolotl_packing_bench.results.store import RunResult, latest_per_run, read_results
from axolotl_packing_bench.constants import BASELINE_STRATEGY, DEFAULT_ATTENTION
from axolotl_packing_bench.core.intervals import Estimate, difference_interval, mean_interval
from axolotl_packing_bench.probes.registry import ProbeColumn, probe_columns

MINUS = "\u2212"
SEED_AXIS = "seed"


def _signed(value: float, fmt: str) -> str:
    text = format(abs(value), fmt)
    if float(text.rstrip("%").replace(",", "") or 0) == 0:
        return "±" + text
    return ("+" if value > 0 else MINUS) + text


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if math.isnan(value) or math.isinf(value):
        return None
    return float(value)


@dataclass(frozen=True)
class Column(ProbeColumn):
    """One numeric column: where the value lives (`get`), its format, how its delta shows
    ("pct" | "time" | "pp" | "abs" | ""), which way is better ("low" | "high" | ""), and a `note`
    shown after the figure (e.g. "±0.045"); the fields are `probe_registry.ProbeColumn`'s, so a
    probe's columns are leaderboard columns as they are."""

    def show(self, value: float) -> str:
        return format(value, self.fmt)

    def show_spread(self, half_width: float | None) -> str:
        """` ±hw` for a mean over seeds, in the column's own unit."""
        return "" if half_width is None else f" ±{format(half_width, self.fmt.lstrip(',+'))}"

    def show_delta(self, value: float, base: float, difference: Estimate | None = None) -> str:
        """The difference from the baseline; with `difference` (over seeds), its interval and `*`."""
        spread, mark = "", ""
        if difference is not None and difference.half_width is not None:
            mark = "*" if difference.significant else ""
        if self.delta in ("pct", "time"):
            if base == 0:
                return ""
            if difference is not None and difference.half_width is not None:
                spread = f" ±{100 * difference.half_width / abs(base):.0f}%"
            text = _signed(100 * (value / base - 1), ".0f") + "%" + spread + mark
            if self.delta == "time" and value > 0:
                text += f", {base / value:.2f}×"
            return f" ({text})"
        if self.delta == "pp":
            if difference is not None and difference.half_width is not None:
                spread = f" ±{100 * difference.half_width:.1f}"
            return f" ({_signed(100 * (value - base), '.1f')}{spread} pp{mark})"
        if self.delta == "abs":
            if difference is not None and difference.half_width is not None:
                spread = f" ±{format(difference.half_width, self.fmt.lstrip(',+'))}"
            return f" ({_signed(value - base, self.fmt.lstrip(',+'))}{spread}{mark})"
        return ""


def _metric(*path: str) -> Callable[[RunResult], Any]:
    return lambda result: figure(result, *path)  # UNREADABLE for impossible numbers (results.sanity)


BASE_COLUMNS = (
    Column("steps", _metric("training", "steps"), ",.0f", "pct", ""),
    # a packed step holds several samples, so step times compare across runs of one cell, not across strategies
    Column("step time (s, median)", _metric("training", "median_step_s"), ",.3f", "", "", optional=True),
    Column("train time (s)", _metric("training", "runtime_s"), ",.1f", "time", "low"),
    Column("samples/s", _metric("training", "samples_per_s"), ",.1f", "pct", "high"),
    Column("real tokens/s", _metric("training", "real_tokens_per_s"), ",.0f", "pct", "high"),
    Column("steady tokens/s", _metric("training", "steady_real_tokens_per_s"), ",.0f", "pct", "high", optional=True),
    Column("efficiency", _metric("packing", "efficiency"), ".1%", "pp", "high"),
    Column("held-out loss", _metric("heldout", "loss"), ".4f", "abs", "low", optional=True),
    Column("train loss (last step)", _metric("training", "final_train_loss"), ".3f", "abs", "low"),
    Column("eval loss", _metric("training", "eval_loss"), ".3f", "abs", "low", optional=True),
    Column("peak memory (MB)", _metric("peak_memory_mb"), ",.0f", "pct", "low", optional=True),
)


def _flatten(prefix: str, data: Any) -> dict[str, float]:
    """Numeric leaves of a (nested) mapping as `prefix: a/b` -> value."""
    out: dict[str, float] = {}
    if isinstance(data, Mapping):
        for key in sorted(data, key=str):
            out.update(_flatten(f"{prefix}/{key}" if prefix.count(":") else f"{prefix}: {key}", data[key]))
    elif (number := _number(data)) is not None:
        out[prefix] = number
    return out


_SECTIONS = (("scores", "score"), ("judge", "judge"))


def score_columns(results: Iterable[RunResult]) -> list[Column]:
    """Evaluation columns: one per lm-eval task (value ± stderr), the judge's
    score or win rate with how many prompts were judged and how many replies
    were invalid, and one per numeric leaf of any other `scores`/`judge` data.
    """
    results = list(results)
    columns: dict[str, Column] = {}
    for result in results:
        for task, entry in sorted(result.scores.items()):
            if isinstance(entry, Mapping) and "value" in entry:
                title = f"{task} ({entry.get('metric', 'score')})"
                columns.setdefault(title, Column(title, _task_value(task), ".3f", "abs", "high", note=_task_stderr(task)))
            else:
                for title in _flatten("score", {task: entry}):
                    columns.setdefault(title, Column(title, _score_getter("scores", "score", title), ".2f", "abs", "high"))
        same_topic = result.metric("packing", "relatedness", "same_group_adjacent")
        if same_topic is not None:
            columns.setdefault("same-topic neighbours", Column(
                "same-topic neighbours", lambda r: r.metric("packing", "relatedness", "same_group_adjacent"), ".2f", "abs", ""))
        judge = result.judge
        if isinstance(judge, Mapping) and "judged" in judge:
            if judge.get("mode") == "pairwise":
                columns.setdefault("judge win rate", Column("judge win rate", _win_rate, ".2f", "abs", "high", note=_judge_note))
            else:
                columns.setdefault("judge score", Column("judge score", _judge_score, ".2f", "abs", "high", note=_judge_note))
        elif judge:
            for title in _flatten("judge", judge):
                columns.setdefault(title, Column(title, _score_getter("judge", "judge", title), ".2f", "abs", "high"))
    for probe in probe_columns(results):  # each registered probe says which columns it adds
        columns.setdefault(probe.title, Column(**{f.name: getattr(probe, f.name) for f in fields(probe)}))
    return [columns[title] for title in sorted(columns)]


def _task_value(task: str) -> Callable[[RunResult], Any]:
    return lambda result: (result.scores.get(task) or {}).get("value") if isinstance(result.scores.get(task), Mapping) else None


def _task_stderr(task: str) -> Callable[[RunResult], str]:
    def note(result: RunResult) -> str:
        entry = result.scores.get(task)
        stderr = _number(entry.get("stderr")) if isinstance(entry, Mapping) else None
        return f" ±{stderr:.3f}" if stderr is not None else ""

    return note


def _judge_score(result: RunResult) -> Any:
    return result.judge.get("mean_score") if isinstance(result.judge, Mapping) else None


def _win_rate(result: RunResult) -> Any:
    judge = result.judge if isinstance(result.judge, Mapping) else {}
    decided = sum(int(judge.get(k) or 0) for k in ("win", "tie", "loss"))
    return (int(judge.get("win") or 0) + 0.5 * int(judge.get("tie") or 0)) / decided if decided else None


def _judge_note(result: RunResult) -> str:
    judge = result.judge if isinstance(result.judge, Mapping) else {}
    if "judged" not in judge:
        return ""
    record = f"W/T/L {judge.get('win', 0)}/{judge.get('tie', 0)}/{judge.get('loss', 0)}, " if judge.get("mode") == "pairwise" else ""
    return f" [{record}{judge['judged']} judged, {judge.get('invalid', 0)} invalid]"


def _score_getter(section: str, prefix: str, title: str) -> Callable[[RunResult], Any]:
    return lambda result: _flatten(prefix, getattr(result, section)).get(title)


def _size_value(label: Any) -> float:
    """`69K` -> 69e3, `1.2M` -> 1.2e6, `8B` -> 8e9; unknown -> inf (sorted last)."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmMbBtT]?)\s*", str(label or ""))
    if not match:
        return math.inf
    scale = {"": 1, "k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}[match.group(2).lower()]
    return float(match.group(1)) * scale


def _group_key(result: RunResult) -> tuple:
    extras = tuple((name, label) for name, label in sorted(result.axes.items())
                   if name not in CORE_AXES and name != SEED_AXIS)
    return (
        result.matrix,
        _size_value(result.labels.get("dataset_size")),
        result.axes.get("dataset", "?"),
        _size_value(result.labels.get("model_size")),
        result.axes.get("model", "?"),
        extras,
    )


def _row_key(result: RunResult) -> tuple:
    attention = result.axes.get("attention", "")
    return (strategy_sort_key(result.axes.get("strategy", "")), attention != DEFAULT_ATTENTION, attention)


def _seed(result: RunResult) -> str:
    """What tells the runs of one row apart: the seed axis (or the cell, without one), and the repeat."""
    seed = str(result.axes.get(SEED_AXIS, result.cell_id))
    return f"{seed}#{result.repeat}" if result.repeat else seed


def _label(name: Any, size: Any) -> str:
    return f"{name} ({size})" if size else str(name)


def _escape(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def _leakage(runs: list[RunResult]) -> str:
    values = [(value, run) for run in runs if (value := _number(run.metric("leakage", "max_abs_diff"))) is not None]
    if not values:
        return "—"
    value, worst = max(values, key=lambda pair: pair[0])
    text = f"{value:.1e}" if value < 0.01 else f"{value:.3f}"
    passed = worst.metric("leakage", "passed")
    return text + (" ✓" if passed is True else " ✗" if passed is False else "")


def _environment(result: RunResult) -> tuple[str, str]:
    return describe_hardware(result.metric("hardware")), describe_versions(result.metric("versions"))


def _by_seed(column: Column, runs: list[RunResult]) -> dict[str, float]:
    return {_seed(run): value for run in runs if (value := _number(column.get(run))) is not None}


def _table(rows: list[list[RunResult]], columns: list[Column]) -> list[str]:
    """One line per row of runs (one run, or one per seed), with differences from the padding row."""
    baseline = next((runs for runs in rows if runs[0].axes.get("strategy") == BASELINE_STRATEGY), None)
    seeded = any(len(runs) > 1 for runs in rows)
    values = [[_by_seed(column, runs) for column in columns] for runs in rows]
    means = [[sum(v.values()) / len(v) if v else None for v in row_values] for row_values in values]
    best: list[str | None] = []  # the shown text of each column's best figure
    for index, column in enumerate(columns):
        numbers = [m[index] for m in means if m[index] is not None]
        if column.better and len(numbers) >= 2:
            best.append(column.show(min(numbers) if column.better == "low" else max(numbers)))
        else:
            best.append(None)
    measured_load = any(run.metric("runner", "load", "loaded") is not None for runs in rows for run in runs)
    header = ["strategy", "attention", *(["seeds"] if seeded else []), *(column.title for column in columns), "leakage",
              *(["machine"] if measured_load else [])]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for runs, row_values, row_means in zip(rows, values, means, strict=True):
        first = runs[0]
        cells = [_escape(first.axes.get("strategy", "?")), _escape(first.axes.get("attention", "—"))]
        if seeded:
            cells.append(str(len(runs)))
        for index, column in enumerate(columns):
            by_seed, mean = row_values[index], row_means[index]
            if mean is None:
                cells.append("unreadable" if any(column.get(run) is UNREADABLE for run in runs) else "—")
                continue
            text = column.show(mean)
            if best[index] == text:
                text = f"**{text}**"
            if len(by_seed) > 1:
                text += column.show_spread(mean_interval(list(by_seed.values())).half_width)
            elif column.note is not None:
                text += column.note(runs[0])
            base = values[rows.index(baseline)][index] if baseline is not None and runs is not baseline else None
            if base:
                difference = difference_interval(by_seed, base) if len(by_seed) > 1 or len(base) > 1 else None
                text += column.show_delta(mean, sum(base.values()) / len(base), difference)
            cells.append(text)
        cells.append(_leakage(runs))
        if measured_load:
            loaded = any(run.metric("runner", "load", "loaded") is True for run in runs)
            cells.append("loaded ⚠" if loaded else "idle")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render_leaderboard(results: Iterable[RunResult], *, source: str = "results.jsonl") -> str:
    """The whole LEADERBOARD.md text for these results (latest result per cell)."""
    latest = list(latest_per_run(results).values())
    ok = [result for result in latest if result.ok]
    failed = sorted((result for result in latest if not result.ok), key=lambda r: (r.matrix, r.cell_id))
    environments = sorted({_environment(result) for result in ok})

    lines = [
        "# Packing leaderboard",
        "",
        f"Rendered by `packbench leaderboard` from `{source}` ({len(latest)} runs, the latest result of each cell and repeat); do not edit by hand.",
        "Figures in parentheses are differences from the padding row of the same table;",
        "train time also as a speed-up over padding (×). Bold: the best figure of its column.",
        "Rows over several seeds: mean ±95% interval (Student t); differences from padding paired by seed,",
        "`*` where their 95% interval excludes zero. Held-out loss: assistant tokens of held-out chats, scored",
        "unpacked, the same way for every strategy (lower is better); the last step's training loss is not quality.",
        "Leakage: max abs logit difference of a packed segment vs the segment alone (✓ within tolerance).",
        "Step time: median wall time of a step after the warm-up (compare it across runs of one cell; across",
        "strategies compare steady tokens/s, real tokens per second at that median). Machine: `loaded ⚠` when",
        "other programs used the machine during a run (its times are not comparable).",
        "",
    ]
    if len(environments) == 1:
        hardware, software = environments[0]
        lines += [f"- Hardware: {hardware}", f"- Software: {software}", ""]
    elif environments:
        lines += ["Results come from several environments; each table names its own:", ""]
        lines += [f"- {hardware}; {software}" for hardware, software in environments] + [""]

    groups: dict[tuple, list[RunResult]] = {}
    for result in ok:
        groups.setdefault(_group_key(result), []).append(result)
    current_matrix = None
    for key in sorted(groups):
        runs = sorted(groups[key], key=lambda r: (_row_key(r), _seed(r), r.cell_id))
        rows = [list(row) for _, row in itertools.groupby(runs, key=_row_key)]
        flat = [run for row in rows for run in row]
        matrix = key[0]
        if matrix != current_matrix:
            lines += [f"## {matrix}", ""]
            current_matrix = matrix
        first = flat[0]
        title = f"### {_label(first.axes.get('dataset', '?'), first.labels.get('dataset_size'))} × {_label(first.axes.get('model', '?'), first.labels.get('model_size'))}"
        extras = ", ".join(f"{name}={label}" for name, label in key[5])
        lines += [title + (f" · {extras}" if extras else ""), ""]
        if len(environments) > 1:
            envs = sorted({_environment(run) for run in flat})
            lines += ["Environment: " + " / ".join(f"{hardware}; {software}" for hardware, software in envs), ""]
        columns = [
            column
            for column in BASE_COLUMNS
            if not column.optional or any(_number(column.get(run)) is not None or column.get(run) is UNREADABLE for run in flat)
        ]
        columns += score_columns(flat)
        if not any(run.axes.get("strategy") == BASELINE_STRATEGY for run in flat):
            lines += ["No padding row in this table: no differences shown.", ""]
        lines += _table(rows, columns) + [""]

    if not groups:
        lines += ["No successful runs yet: `packbench run --matrix recipes/matrices/smoke.yaml` adds some.", ""]
    if failed:
        lines += ["## Failed cells", "", "| matrix | cell | status | reason | log |", "| --- | --- | --- | --- | --- |"]
        for result in failed:
            log = f"`{result.log}`" if result.log else "—"
            lines.append(
                f"| {_escape(result.matrix)} | `{result.cell_id}` | {result.status} | {_escape(result.reason or 'no reason recorded')} | {log} |"
            )
        lines.append("")
    return "\n".join(lines)


def render_to(results_path: str | Path, leaderboard_path: str | Path) -> str:
    """Re-render the leaderboard file from the results file; returns the text."""
    text = render_leaderboard(read_results(results_path), source=Path(results_path).name)
    atomic_write_text(leaderboard_path, text)
    return text
