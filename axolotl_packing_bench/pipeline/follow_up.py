"""What runs after a cell trains: the matrix's `eval:` and `probes:` sections.

The driver records the training result before the follow-up starts, so a
failed or interrupted evaluation never loses it; the evaluated result is
recorded again afterwards (the latest line per run id wins). The follow-up
is a plain picklable object, so a Ray task or a Slurm task can run it where
the trained model is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axolotl_packing_bench.bench.matrix import Matrix
from axolotl_packing_bench.bench.procguard import guard_argv
from axolotl_packing_bench.bench.results import RunResult
from axolotl_packing_bench.bench.runner import CellPlan

BASELINE_STRATEGY = "padding"


def _baseline_key(axes: Mapping[str, str], repeat: int) -> tuple:
    return (tuple(sorted((key, value) for key, value in axes.items() if key != "strategy")), repeat)


@dataclass(frozen=True)
class MatrixFollowUp:
    """Eval and probes on one trained cell; `follow_up(plan, result) -> result`. Never raises for a probe."""

    eval_spec: Mapping[str, Any] | None
    reliance: Mapping[str, Any] | None
    base_dir: Path
    baselines: Mapping[tuple, Path] = field(default_factory=dict)

    def padding_run_dir(self, plan: CellPlan) -> Path | None:
        """The output of the padding cell (same repeat) sharing every other axis value with `plan`."""
        if plan.cell.axes.get("strategy") == BASELINE_STRATEGY:
            return None
        return self.baselines.get(_baseline_key(plan.cell.axes, plan.repeat))

    def __call__(self, plan: CellPlan, result: RunResult) -> RunResult:
        if not result.ok:
            return result
        if self.reliance is not None:
            result = result.replace(metrics={**result.metrics, "reliance": reliance_probe(plan.run_dir, self.reliance)})
        if self.eval_spec:
            from axolotl_packing_bench.eval.section import run_eval_section
            from axolotl_packing_bench.eval.store import attach_evaluation

            outcome = run_eval_section(
                plan.run_dir / "output", self.eval_spec, baseline_run_dir=self.padding_run_dir(plan), base_dir=self.base_dir
            )
            result = attach_evaluation(result, outcome)
        return result


def follow_up_for(matrix: Matrix, plans: Sequence[CellPlan]) -> MatrixFollowUp | None:
    """The matrix's follow-up step, or None when it asks for neither eval nor probes."""
    eval_spec = matrix.sections.get("eval")
    reliance = (matrix.sections.get("probes") or {}).get("reliance")
    if not eval_spec and reliance is None:
        return None
    baselines = {
        _baseline_key(plan.cell.axes, plan.repeat): plan.run_dir / "output"
        for plan in plans
        if plan.cell.axes.get("strategy") == BASELINE_STRATEGY
    }
    return MatrixFollowUp(eval_spec or None, reliance, matrix.path.parent, baselines)


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
        # under the guard: the probe dies with the runner
        status = subprocess.call(guard_argv(argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if status != 0 or not out.exists():
        return {"error": f"the reliance probe exited with status {status}; see {run_dir / 'probe.log'}"}
    return json.loads(out.read_text(encoding="utf-8"))
