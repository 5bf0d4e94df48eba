"""`packbench compare --format json`: the verdict, the rule, every cell's figures, both environments."""

from __future__ import annotations

from typing import Any

from axolotl_packing_bench.report.compare import CellComparison, Comparison, Pair, rule_text
from axolotl_packing_bench.report.paired_steps import MIN_REPEATS

JSON_SCHEMA_VERSION = 1
EXIT_CODES = {"pass": 0, "fail": 1}


def _pair(pair: Pair) -> dict[str, Any]:
    return {"baseline": pair[0].to_dict(), "candidate": pair[1].to_dict()}


def _versions(cell: CellComparison, side: int) -> Any:
    run = cell.baseline if side == 0 else cell.candidate
    return None if run is None else run.metric("versions")


def cell_to_dict(cell: CellComparison) -> dict[str, Any]:
    """One cell's figures (medians, counts, raw values per side), its rule, spread and problems."""
    return {
        "cell_id": cell.cell_id,
        "verdict": cell.verdict,
        "rule": cell.rule,
        "time_metric": cell.time_metric,
        "repeats": {"baseline": cell.repeats[0], "candidate": cell.repeats[1]},
        "spread": cell.spread,
        "paired_steps": None if cell.steps is None else cell.steps.to_dict(),
        "time": _pair(cell.time),
        "ratio_to_padding": _pair(cell.ratio),
        "efficiency": _pair(cell.efficiency),
        "heldout_loss": _pair(cell.heldout),
        "equivalence": {"baseline": cell.equivalence[0], "candidate": cell.equivalence[1]},
        "last_step_train_loss": _pair(cell.loss),
        "versions": {"baseline": _versions(cell, 0), "candidate": _versions(cell, 1)},
        "problems": list(cell.problems),
        "warnings": list(cell.warnings),
    }


def comparison_to_dict(comparison: Comparison) -> dict[str, Any]:
    """The whole comparison as plain JSON data (see tests/report/test_compare_json.py for its schema)."""
    limits = comparison.limits
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "kind": "packbench-compare",
        "verdict": comparison.verdict,
        "exit_code": EXIT_CODES[comparison.verdict],
        "compared_cells": comparison.compared,
        "rule": {
            "text": rule_text(limits),
            "min_repeats_for_spread": MIN_REPEATS,
            "max_slowdown": limits.max_slowdown,
            "max_efficiency_drop": limits.max_efficiency_drop,
            "max_loss_increase": limits.max_loss_increase,
            "heldout_tolerance": limits.heldout_tolerance,
            "allow_missing": limits.allow_missing,
            "allow_loaded": limits.allow_loaded,
        },
        "versions": {"baseline": list(comparison.versions[0]), "candidate": list(comparison.versions[1])},
        "refusals": list(comparison.refusals),
        "loaded_runs": list(comparison.loaded),
        "spread_unknown": [cell.cell_id for cell in comparison.few_repeats],
        "seed_problems": list(comparison.seed_problems),
        "cells": [cell_to_dict(cell) for cell in comparison.cells],
    }
