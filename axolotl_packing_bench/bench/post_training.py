"""What runs after a cell trains: the matrix's `eval:` and `probes:` sections.

The training result is recorded before any evaluation starts, so a failed or
interrupted evaluation never loses it; the evaluated result is recorded again
afterwards (the latest line per run id wins).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from axolotl_packing_bench.bench.matrix import Matrix
from axolotl_packing_bench.bench.results import RunResult
from axolotl_packing_bench.bench.runner import CellPlan, record_result

AfterTraining = Callable[[CellPlan, RunResult], RunResult]
BASELINE_STRATEGY = "padding"


def padding_run_dir(plan: CellPlan, plans: Sequence[CellPlan]) -> Path | None:
    """The output of the padding cell that shares every other axis value with `plan`."""
    wanted = {**plan.cell.axes, "strategy": BASELINE_STRATEGY}
    for other in plans:
        if dict(other.cell.axes) == wanted and other is not plan:
            return other.run_dir / "output"
    return None


def after_training_hook(
    matrix: Matrix, plans: Sequence[CellPlan], *, results_path: str | Path, leaderboard_path: str | Path | None
) -> AfterTraining | None:
    """A function the runner calls on each trained cell, or None if the matrix asks for nothing."""
    eval_spec = matrix.sections.get("eval")
    reliance = (matrix.sections.get("probes") or {}).get("reliance")
    if not eval_spec and reliance is None:
        return None

    def follow_up(plan: CellPlan, result: RunResult) -> RunResult:
        if not result.ok:
            return result
        record_result(result, results_path, leaderboard_path)
        if reliance is not None:
            result = result.replace(metrics={**result.metrics, "reliance": reliance_probe(plan.run_dir, reliance)})
        if eval_spec:
            from axolotl_packing_bench.eval.section import run_eval_section
            from axolotl_packing_bench.eval.store import attach_evaluation

            outcome = run_eval_section(
                plan.run_dir / "output",
                eval_spec,
                baseline_run_dir=padding_run_dir(plan, plans),
                base_dir=matrix.path.parent,
            )
            result = attach_evaluation(result, outcome)
        return result

    return follow_up


def reliance_probe(run_dir: Path, settings: Mapping[str, Any]) -> dict[str, Any]:
    """`packbench probe reliance` on a trained cell, in its own process. Never raises.

    Returns the probe's JSON, or `{"error": ...}` naming what went wrong.
    """
    settings = {"data": "packbench://heldout?seed=0", **settings}
    out = run_dir / "reliance.json"
    argv = [sys.executable, "-m", "axolotl_packing_bench.cli", "probe", "reliance",
            "--model", str(run_dir / "output"), "--data", str(settings["data"]), "--json", str(out)]
    for key in ("k", "bootstrap", "seed", "max_questions", "threads"):
        if settings.get(key) is not None:
            argv += [f"--{key.replace('_', '-')}", str(settings[key])]
    if settings.get("generate") is False:
        argv.append("--no-generate")
    with open(run_dir / "probe.log", "w", encoding="utf-8") as log:
        status = subprocess.call(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if status != 0 or not out.exists():
        return {"error": f"the reliance probe exited with status {status}; see {run_dir / 'probe.log'}"}
    return json.loads(out.read_text(encoding="utf-8"))
