"""What runs after a cell trains: the matrix's `eval:` and `probes:` sections.

The driver records the training result before the follow-up starts, so a
failed or interrupted evaluation never loses it; the evaluated result is
recorded again afterwards (the latest line per run id wins). The follow-up
is a plain picklable object, so a Ray task or a Slurm task can run it where
the trained model is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axolotl_packing_bench.matrix.spec import Matrix
from axolotl_packing_bench.results.store import RunResult
from axolotl_packing_bench.running.runner import CellPlan
from axolotl_packing_bench.probes.registry import run_probe

BASELINE_STRATEGY = "padding"


def _baseline_key(axes: Mapping[str, str], repeat: int) -> tuple:
    return (tuple(sorted((key, value) for key, value in axes.items() if key != "strategy")), repeat)


@dataclass(frozen=True)
class MatrixFollowUp:
    """Eval and probes on one trained cell; `follow_up(plan, result) -> result`. Never raises for a probe."""

    eval_spec: Mapping[str, Any] | None
    probes: Mapping[str, Mapping[str, Any]]  # probe name -> its settings (see `probe_registry`)
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
        for name, settings in self.probes.items():
            result = result.replace(metrics={**result.metrics, name: run_probe(name, plan.run_dir, settings)})
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
    probes = {name: dict(settings or {}) for name, settings in (matrix.sections.get("probes") or {}).items()}
    if not eval_spec and not probes:
        return None
    baselines = {
        _baseline_key(plan.cell.axes, plan.repeat): plan.run_dir / "output"
        for plan in plans
        if plan.cell.axes.get("strategy") == BASELINE_STRATEGY
    }
    return MatrixFollowUp(eval_spec or None, probes, matrix.path.parent, baselines)


def reliance_probe(run_dir: Path, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The reliance probe on a trained cell (see `probes.reliance_entry`). Never raises."""
    return run_probe("reliance", run_dir, settings)
