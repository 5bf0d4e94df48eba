"""`packbench leaderboard --format json` and `packbench status --format json`: the figures for machines.

Every cell's figures are the median over its ok repeats (latest result of each
repeat), with the relative spread (max - min) / median where there are 3 or
more repeats (else null: unknown), read through `results.sanity` so an
impossible number is listed as unreadable, never as a figure. `verdict` is
`pass` when every cell's latest result is ok, readable and measured on an
idle machine, else `fail` (the command's exit status is not changed by it).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from typing import Any

from axolotl_packing_bench.results.sanity import figure, unreadable_figures
from axolotl_packing_bench.results.store import RunResult, latest_per_run

JSON_SCHEMA_VERSION = 1
MIN_REPEATS = 3
FIGURES: Mapping[str, tuple[str, ...]] = {
    "median_step_s": ("training", "median_step_s"),
    "runtime_s": ("training", "runtime_s"),
    "steady_real_tokens_per_s": ("training", "steady_real_tokens_per_s"),
    "real_tokens_per_s": ("training", "real_tokens_per_s"),
    "efficiency": ("packing", "efficiency"),
    "trainer_efficiency": ("packing", "trainer_efficiency"),
    "heldout_loss": ("heldout", "loss"),
    "last_step_train_loss": ("training", "final_train_loss"),
}
RULE = (
    "each figure: the median over the cell's ok repeats; spread: (max - min) / median over >= 3 repeats, "
    "null below; unreadable: present but impossible (non-finite, zero or negative time, efficiency outside (0, 1])."
)


def figure_summary(runs: Iterable[RunResult], path: tuple[str, ...]) -> dict[str, Any] | None:
    """Median, spread, values and unreadable count of one figure over runs; None when no run has it."""
    found = [figure(run, *path) for run in runs]
    if all(value is None for value in found):
        return None
    values = [value for value in found if isinstance(value, float)]
    median = statistics.median(values) if values else None
    spread = (max(values) - min(values)) / median if len(values) >= MIN_REPEATS and median else None
    return {
        "median": median,
        "spread": spread,
        "n": len(values),
        "values": values,
        "unreadable": sum(1 for value in found if value is not None and not isinstance(value, float)),
    }


def cell_summary(runs: list[RunResult]) -> dict[str, Any]:
    """One cell's repeats: latest status, figures, loaded and unreadable flags, versions."""
    runs = sorted(runs, key=lambda run: run.repeat)
    ok = [run for run in runs if run.ok]
    latest = runs[-1]
    unreadable: dict[str, str] = {}
    for run in ok:
        unreadable.update(unreadable_figures(run))
    figures = {name: summary for name, path in FIGURES.items() if (summary := figure_summary(ok, path)) is not None}
    return {
        "matrix": latest.matrix,
        "cell_id": latest.cell_id,
        "axes": dict(latest.axes),
        "labels": dict(latest.labels),
        "status": "ok" if len(ok) == len(runs) else next(run.status for run in runs if not run.ok),
        "reasons": [run.reason for run in runs if not run.ok and run.reason],
        "repeats": len(runs),
        "repeats_ok": len(ok),
        "figures": figures,
        "unreadable": unreadable,
        "equivalence": [run.metric("equivalence", "passed") for run in ok if run.metric("equivalence") is not None],
        "loaded": any(run.metric("runner", "load", "loaded") is True for run in runs),
        "versions": latest.metric("versions"),
        "hardware": latest.metric("hardware"),
    }


def cell_summaries(results: Iterable[RunResult]) -> list[dict[str, Any]]:
    """Every (matrix, cell) of the results, sorted, each over the latest result of each of its repeats."""
    cells: dict[tuple[str, str], list[RunResult]] = {}
    for (matrix, cell_id, _), result in latest_per_run(results).items():
        cells.setdefault((matrix, cell_id), []).append(result)
    return [cell_summary(runs) for _, runs in sorted(cells.items())]


def _verdict(cells: list[dict[str, Any]]) -> str:
    bad = any(cell["status"] != "ok" or cell["unreadable"] or cell["loaded"] for cell in cells)
    return "fail" if bad or not cells else "pass"


def leaderboard_to_dict(results: Iterable[RunResult], *, source: str) -> dict[str, Any]:
    """The leaderboard's figures per cell as plain JSON data."""
    cells = cell_summaries(results)
    versions = sorted({str(sorted((cell["versions"] or {}).items())) for cell in cells})
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "kind": "packbench-leaderboard",
        "source": source,
        "verdict": _verdict(cells),
        "rule": RULE,
        "environments": len(versions),
        "cells": cells,
    }


def status_to_dict(matrix: str, states: list[tuple[str, str, list[RunResult]]]) -> dict[str, Any]:
    """`packbench status` as JSON: (cell id, state, its results) per cell of the matrix."""
    cells = []
    counts: dict[str, int] = {}
    for cell_id, state, runs in states:
        counts[state] = counts.get(state, 0) + 1
        runs = list(latest_per_run(runs).values())
        summary = (
            cell_summary(runs)
            if runs
            else {
                "cell_id": cell_id,
                "figures": {},
                "unreadable": {},
                "loaded": False,
                "versions": None,
                "repeats": 0,
                "repeats_ok": 0,
            }
        )
        cells.append({**summary, "cell_id": cell_id, "state": state})
    verdict = "pass" if cells and all(cell["state"] == "ok" and not cell["unreadable"] for cell in cells) else "fail"
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "kind": "packbench-status",
        "matrix": matrix,
        "verdict": verdict,
        "rule": RULE,
        "counts": counts,
        "cells": cells,
    }
