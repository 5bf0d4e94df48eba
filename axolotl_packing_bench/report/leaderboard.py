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

import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from axolotl_packing_bench.core.environment import describe_hardware, describe_versions
from axolotl_packing_bench.core.fileio import atomic_write_text
from axolotl_packing_bench.core.intervals import Estimate, difference_interval, mean_interval
from axolotl_packing_bench.probes.registry import ProbeColumn, probe_columns
from axolotl_packing_bench.report.tables import Table, group_tables, load_of, number, processes_of, values_by_seed
from axolotl_packing_bench.report.verdict import quality_against, row_name, speed_against, summary_lines, verdicts
from axolotl_packing_bench.results.baseline import baseline_finder, is_baseline
from axolotl_packing_bench.results.kinds import check_board_path, check_has_rows, check_results_path
from axolotl_packing_bench.results.sanity import UNREADABLE, figure
from axolotl_packing_bench.results.store import RunResult, latest_per_run, read_results

MINUS = "\u2212"


def _signed(value: float, fmt: str) -> str:
    text = format(abs(value), fmt)
    if float(text.rstrip("%").replace(",", "") or 0) == 0:
        return "±" + text
    return ("+" if value > 0 else MINUS) + text


_number = number


@dataclass(frozen=True)
class Column(ProbeColumn):
    """One numeric column: where the value lives (`get`), its format, how its delta shows
    ("pct" | "time" | "pp" | "abs" | ""), which way is better ("low" | "high" | ""), and a `note`
    shown after the figure (e.g. "±0.045"); the fields are `probes.registry.ProbeColumn`'s, so a
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
    # what the trainer computed on: real tokens / token slots of its micro batches, each padded to its longest row
    Column("trainer efficiency", _metric("packing", "trainer_efficiency"), ".1%", "pp", "high", optional=True),
    # as if every row were padded to sequence_len (the plan's figure, what compare gates)
    Column("full-row efficiency", _metric("packing", "efficiency"), ".1%", "pp", "high"),
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
                columns.setdefault(
                    title, Column(title, _task_value(task), ".3f", "abs", "high", note=_task_stderr(task))
                )
            else:
                for title in _flatten("score", {task: entry}):
                    columns.setdefault(
                        title, Column(title, _score_getter("scores", "score", title), ".2f", "abs", "high")
                    )
        same_topic = result.metric("packing", "relatedness", "same_group_adjacent")
        if same_topic is not None:
            columns.setdefault(
                "same-topic neighbours",
                Column(
                    "same-topic neighbours",
                    lambda r: r.metric("packing", "relatedness", "same_group_adjacent"),
                    ".2f",
                    "abs",
                    "",
                ),
            )
        judge = result.judge
        if isinstance(judge, Mapping) and "judged" in judge:
            if judge.get("mode") == "pairwise":
                columns.setdefault(
                    "judge win rate", Column("judge win rate", _win_rate, ".2f", "abs", "high", note=_judge_note)
                )
            else:
                columns.setdefault(
                    "judge score", Column("judge score", _judge_score, ".2f", "abs", "high", note=_judge_note)
                )
        elif judge:
            for title in _flatten("judge", judge):
                columns.setdefault(title, Column(title, _score_getter("judge", "judge", title), ".2f", "abs", "high"))
    for probe in probe_columns(results):  # each registered probe says which columns it adds
        columns.setdefault(probe.title, Column(**{f.name: getattr(probe, f.name) for f in fields(probe)}))
    return [columns[title] for title in sorted(columns)]


def _task_value(task: str) -> Callable[[RunResult], Any]:
    return lambda result: (
        (result.scores.get(task) or {}).get("value") if isinstance(result.scores.get(task), Mapping) else None
    )


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
    record = (
        f"W/T/L {judge.get('win', 0)}/{judge.get('tie', 0)}/{judge.get('loss', 0)}, "
        if judge.get("mode") == "pairwise"
        else ""
    )
    return f" [{record}{judge['judged']} judged, {judge.get('invalid', 0)} invalid]"


def _score_getter(section: str, prefix: str, title: str) -> Callable[[RunResult], Any]:
    return lambda result: _flatten(prefix, getattr(result, section)).get(title)


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


def _machine(runs: Sequence[RunResult]) -> str:
    """`loaded ⚠` when any run trained on a loaded machine, `idle` when all were measured idle, else `—`."""
    loads = [load_of(run) for run in runs]
    if any(loads):
        return "loaded ⚠"
    return "idle" if all(load is False for load in loads) else "—"


def _wide_table(rows: Sequence[Sequence[RunResult]], columns: list[Column]) -> list[str]:
    """Every column: one line per row of runs (one run, or one per seed), with differences from the padding row."""
    baseline_of = baseline_finder(rows, lambda runs: runs[0].axes, over_seeds=True)
    seeded = any(len(runs) > 1 for runs in rows)
    several = any(processes_of(run) > 1 for runs in rows for run in runs)  # the set-up column, when it matters
    values = [[values_by_seed(column.get, runs) for column in columns] for runs in rows]
    means = [[sum(v.values()) / len(v) if v else None for v in row_values] for row_values in values]
    best: list[str | None] = []  # the shown text of each column's best figure
    for index, column in enumerate(columns):
        numbers = [m[index] for m in means if m[index] is not None]
        if column.better and len(numbers) >= 2:
            best.append(column.show(min(numbers) if column.better == "low" else max(numbers)))
        else:
            best.append(None)
    header = [
        "strategy",
        "attention",
        *(["processes"] if several else []),
        *(["seeds"] if seeded else []),
        *(column.title for column in columns),
        "leakage",
        "machine",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for runs, row_values, row_means in zip(rows, values, means, strict=True):
        first = runs[0]
        cells = [_escape(first.axes.get("strategy", "?")), _escape(first.axes.get("attention", "—"))]
        if several:
            cells.append(str(processes_of(first)))
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
            baseline = baseline_of(runs)
            base = (
                values[next(i for i, row in enumerate(rows) if row is baseline)][index]
                if baseline is not None
                else None
            )
            if base:
                difference = difference_interval(by_seed, base) if len(by_seed) > 1 or len(base) > 1 else None
                text += column.show_delta(mean, sum(base.values()) / len(base), difference)
            cells.append(text)
        cells.append(_leakage(list(runs)))
        cells.append(_machine(runs))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


_BY_TITLE = {column.title: column for column in BASE_COLUMNS}
_STEPS, _HELDOUT = _BY_TITLE["steps"], _BY_TITLE["held-out loss"]
_TRAINER_EFFICIENCY, _EFFICIENCY = _BY_TITLE["trainer efficiency"], _BY_TITLE["full-row efficiency"]


def _absent(column: Column, runs: Sequence[RunResult]) -> str:
    """`unreadable` when a run holds an impossible figure for the column (results.sanity), else `—`."""
    return "unreadable" if any(column.get(run) is UNREADABLE for run in runs) else "—"


def _narrow_table(rows: Sequence[Sequence[RunResult]], scores: Sequence[Column] = ()) -> list[str]:
    """What decides, in under 120 columns: steps, speed-up and held-out loss against padding, efficiency,
    the matrix's own evaluation scores (when it has any), leakage and the machine's load."""
    baseline_of = baseline_finder(rows, lambda runs: runs[0].axes, over_seeds=True)
    seeded = any(len(runs) > 1 for runs in rows)
    speeds = {id(runs): speed_against(runs, base) if (base := baseline_of(runs)) is not None else None for runs in rows}
    bases = {speed.basis for speed in speeds.values() if speed is not None}
    short = {"steady tokens/s": "tok/s", "train time": "time"}
    speed_title = "speed-up" + (f" ({short.get(basis := bases.pop(), basis)})" if len(bases) == 1 else "")
    with_heldout = any(values_by_seed(_HELDOUT.get, runs) for runs in rows)
    header = [
        "strategy",
        *(["seeds"] if seeded else []),
        "steps",
        speed_title,
        *(["held-out loss (Δ)"] if with_heldout else []),
        "efficiency",
        *(column.title for column in scores),
        "leakage",
        "machine",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for runs in rows:
        cells = [_escape(row_name(runs))]
        if seeded:
            cells.append(str(len(runs)))
        steps = values_by_seed(_STEPS.get, runs)
        cells.append(_STEPS.show(sum(steps.values()) / len(steps)) if steps else _absent(_STEPS, runs))
        speed = speeds[id(runs)]
        baseline = baseline_of(runs)
        if is_baseline(runs[0].axes):
            cells.append("1.00×" if bases or any(speeds.values()) else "—")
        else:
            mixed = (
                f" ({short.get(speed.basis, speed.basis)})"
                if speed is not None and not speed_title.endswith(")")
                else ""
            )
            cells.append(f"{speed.ratio:.2f}×{mixed}" if speed is not None else "—")
        heldout = values_by_seed(_HELDOUT.get, runs)
        if not with_heldout:
            pass
        elif baseline is None:
            cells.append(
                _HELDOUT.show(sum(heldout.values()) / len(heldout))
                + _HELDOUT.show_spread(mean_interval(list(heldout.values())).half_width)
                if heldout
                else "—"
            )
        else:
            quality = quality_against(runs, baseline)
            cells.append(quality.text(4) if quality is not None else "—")
        cells.append(_efficiency_cell(runs))
        cells += [_score_cell(column, runs, baseline) for column in scores]
        cells.append(_leakage(list(runs)))
        cells.append(_machine(runs))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


FULL_ROW_MARK = "†"
"""After a narrow board's efficiency: the full-row figure, for runs that did not count the trainer's batches."""


def _efficiency_cell(runs: Sequence[RunResult]) -> str:
    """The trainer's batch efficiency (mean over seeds); the full-row figure marked `†` where a run lacks it."""
    recorded = [_TRAINER_EFFICIENCY.get(run) for run in runs]
    if any(value is UNREADABLE for value in recorded):
        return "unreadable"
    trainer = values_by_seed(_TRAINER_EFFICIENCY.get, runs)
    if trainer and all(value is not None for value in recorded):
        return _TRAINER_EFFICIENCY.show(sum(trainer.values()) / len(trainer))
    full = values_by_seed(_EFFICIENCY.get, runs)
    if not full:
        return _absent(_EFFICIENCY, runs)
    return f"{_EFFICIENCY.show(sum(full.values()) / len(full))} {FULL_ROW_MARK}"


def _score_cell(column: Column, runs: Sequence[RunResult], baseline: Sequence[RunResult] | None) -> str:
    """An evaluation score: its mean, and its difference from padding's (`*` beyond noise)."""
    values = values_by_seed(column.get, runs)
    if not values:
        return "—"
    mean = sum(values.values()) / len(values)
    base = values_by_seed(column.get, baseline) if baseline is not None else {}
    if not base:
        return column.show(mean)
    difference = difference_interval(values, base) if len(values) > 1 or len(base) > 1 else None
    return column.show(mean) + column.show_delta(mean, sum(base.values()) / len(base), difference)


_LEGEND = [
    "Each table: its verdict, then one row per strategy (and attention, when not isolated) against padding.",
    "Speed-up (tok/s): steady tokens/s (real tokens per second at the median step after the warm-up) over",
    "padding's; (time): padding's train time over the row's. Held-out loss: assistant tokens of held-out chats,",
    "scored unpacked the same way for every strategy (lower is better); padding's mean, then each row's Δ.",
    "Over seeds: mean ±95% interval (Student t), differences paired by seed, `*` where the interval excludes",
    "zero. Leakage: max abs logit difference of a packed segment vs the segment alone (✓ within tolerance).",
    "Efficiency: real tokens / token slots of the micro batches the trainer ran (each padded to its longest row);",
    "`†`: real tokens / (rows × sequence_len) instead, for runs that did not count the trainer's batches.",
    "Machine: `loaded ⚠` when other programs used the machine during a run (its times are not comparable),",
    "`—` when not measured (runs recorded by hand). `packbench leaderboard --wide` shows every column.",
]

_WIDE_LEGEND = [
    "Figures in parentheses are differences from the padding row of the same table;",
    "train time also as a speed-up over padding (×). Bold: the best figure of its column.",
    "Rows over several seeds: mean ±95% interval (Student t); differences from padding paired by seed,",
    "`*` where their 95% interval excludes zero. Held-out loss: assistant tokens of held-out chats, scored",
    "unpacked, the same way for every strategy (lower is better); the last step's training loss is not quality.",
    "Trainer efficiency: real tokens / token slots of the micro batches the trainer ran (each padded to its",
    "longest row); full-row efficiency: real tokens / (rows × sequence_len), the figure `packbench compare` gates.",
    "Leakage: max abs logit difference of a packed segment vs the segment alone (✓ within tolerance).",
    "Step time: median wall time of a step after the warm-up (compare it across runs of one cell; across",
    "strategies compare steady tokens/s, real tokens per second at that median). Machine: `loaded ⚠` when",
    "other programs used the machine during a run (its times are not comparable), `—` when not measured.",
]


_DESCRIPTIVE = {"same-topic neighbours"}
"""Score-like columns that describe the packing rather than judge the model: only on the wide board."""


def _columns(table: Table) -> list[Column]:
    flat = table.runs
    columns = [
        column
        for column in BASE_COLUMNS
        if not column.optional
        or any(_number(column.get(run)) is not None or column.get(run) is UNREADABLE for run in flat)
    ]
    return columns + score_columns(flat)


def render_leaderboard(results: Iterable[RunResult], *, source: str = "results.jsonl", wide: bool = False) -> str:
    """The whole LEADERBOARD.md text for these results (latest result per cell): a verdict per table and
    the columns that decide, or with `wide` every column."""
    latest = list(latest_per_run(results).values())
    ok = [result for result in latest if result.ok]
    failed = sorted((result for result in latest if not result.ok), key=lambda r: (r.matrix, r.cell_id))
    environments = sorted({_environment(result) for result in ok})

    lines = [
        "# Packing leaderboard",
        "",
        (
            f"Rendered by `packbench leaderboard{' --wide' if wide else ''}` from `{source}` ({len(latest)} runs, "
            "the latest result of each cell and repeat); do not edit by hand."
        ),
        *(_WIDE_LEGEND if wide else _LEGEND),
        "",
    ]
    if len(environments) == 1:
        hardware, software = environments[0]
        lines += [f"- Hardware: {hardware}", f"- Software: {software}", ""]
    elif environments:
        lines += ["Results come from several environments; each table names its own:", ""]
        lines += [f"- {hardware}; {software}" for hardware, software in environments] + [""]

    tables = group_tables(ok)
    found = verdicts(tables)
    lines += summary_lines(found)
    current_matrix = None
    for table, verdict in zip(tables, found, strict=True):
        if table.matrix != current_matrix:
            lines += [f"## {table.matrix}", ""]
            current_matrix = table.matrix
        extras = ", ".join(f"{name}={label}" for name, label in table.extras)
        lines += [f"### {table.title}" + (f" · {extras}" if extras else ""), ""]
        if len(environments) > 1:
            envs = sorted({_environment(run) for run in table.runs})
            lines += ["Environment: " + " / ".join(f"{hardware}; {software}" for hardware, software in envs), ""]
        lines += [f"**Verdict:** {verdict.text}", ""]
        if table.baseline is None:
            lines += ["No padding row in this table: no differences shown.", ""]
        deciding = [column for column in score_columns(table.runs) if column.title not in _DESCRIPTIVE]
        lines += (_wide_table(table.rows, _columns(table)) if wide else _narrow_table(table.rows, deciding)) + [""]

    if not tables:
        lines += ["No successful runs yet: `packbench run --matrix recipes/matrices/smoke.yaml` adds some.", ""]
    if failed:
        lines += ["## Failed cells", ""]
        for result in failed:
            lines += failed_cell_lines(result)
        lines.append("")
    return "\n".join(fit_width(lines))


BOARD_WIDTH = 120


def fit_width(lines: Iterable[str], width: int = BOARD_WIDTH) -> list[str]:
    """Prose and list lines wrapped to `width` (a list item's continuation indented, so it renders the same);
    table rows are left whole (the tables are built to fit), and so is a word longer than the width."""
    fitted: list[str] = []
    for line in lines:
        if len(line) <= width or line.startswith("|"):
            fitted.append(line)
            continue
        indent = len(line) - len(line.lstrip())
        item = line.lstrip().startswith("- ")
        fitted += textwrap.wrap(
            line,
            width=width,
            subsequent_indent=" " * (indent + (2 if item else 0)),
            break_long_words=False,
            break_on_hyphens=False,
        )
    return fitted


REASON_LINES = 3
"""A failed cell's reason takes at most this many lines of the board; the results and the JSON keep it whole."""
CUT_MARK = " … (whole: `packbench leaderboard --format json`)"


def failed_cell_lines(result: RunResult) -> list[str]:
    """A failed cell as a list item (matrix, cell, status), its reason wrapped to the board's width, and its log.

    A reason longer than `REASON_LINES` lines is cut with `CUT_MARK` (a word longer than a line is broken). A
    cell id or log path longer than the width stays whole on its own line: cut, it could not be copied.
    """
    reason = " ".join((result.reason or "no reason recorded").split())
    wrapped = textwrap.wrap(
        reason,
        width=BOARD_WIDTH - 4,
        max_lines=REASON_LINES,
        placeholder=CUT_MARK,
        break_on_hyphens=False,
    )
    lines = [f"- {_escape(result.matrix)} · `{result.cell_id}` · {result.status}", "  - " + wrapped[0]]
    lines += ["    " + line for line in wrapped[1:]]
    if result.log:
        lines.append(f"  - log: `{result.log}`")
    return lines


def render_to(results_path: str | Path, leaderboard_path: str | Path, *, wide: bool = False) -> str:
    """Re-render the leaderboard file from the results file; returns the text.

    Raises:
        WrongKindOfFile: The results path holds no results, or the board path holds something else than a board.
        UnwritableFile: The board could not be written; the old one is as it was.
    """
    check_results_path(results_path)
    check_board_path(leaderboard_path)
    results = read_results(results_path)
    check_has_rows(results_path, len(results))
    text = render_leaderboard(results, source=Path(results_path).name, wide=wide)
    atomic_write_text(leaderboard_path, text)
    return text
