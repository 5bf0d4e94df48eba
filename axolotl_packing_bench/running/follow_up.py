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

from axolotl_packing_bench.matrix.spec import Matrix, matches, probe_settings
from axolotl_packing_bench.probes.registry import run_probe
from axolotl_packing_bench.results.baseline import baseline_finder
from axolotl_packing_bench.results.store import RunResult
from axolotl_packing_bench.running.runner import CellPlan


@dataclass(frozen=True)
class MatrixFollowUp:
    """Eval and probes on one trained cell; `follow_up(plan, result) -> result`. Never raises for a probe."""

    eval_spec: Mapping[str, Any] | None
    probes: Mapping[str, Mapping[str, Any]]  # probe name -> its settings (see `probes.registry`)
    base_dir: Path
    plans: Sequence[CellPlan] = ()
    when: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)  # probe -> its cells (`when:`)

    def padding_run_dir(self, plan: CellPlan) -> Path | None:
        """The output of the plan's padding cell (`results.baseline`, same repeat); None for a padding cell."""
        padding = baseline_finder(self.plans, lambda p: p.cell.axes, also=lambda p: p.repeat)(plan)
        return padding.run_dir / "output" if padding is not None else None

    def __call__(self, plan: CellPlan, result: RunResult) -> RunResult:
        if not result.ok:
            return result
        for name, settings in self.probes.items():
            when = self.when.get(name)
            if when is not None and not matches(when, plan.cell.axes):  # a probe with `when:` runs on those cells only
                continue
            result = result.replace(metrics={**result.metrics, name: run_probe(name, plan.run_dir, settings)})
        if self.eval_spec:
            from axolotl_packing_bench.eval.section import run_eval_section
            from axolotl_packing_bench.eval.store import attach_evaluation

            outcome = run_eval_section(
                plan.run_dir / "output",
                self.eval_spec,
                baseline_run_dir=self.padding_run_dir(plan),
                base_dir=self.base_dir,
            )
            result = attach_evaluation(result, outcome)
        return result


def follow_up_for(matrix: Matrix, plans: Sequence[CellPlan]) -> MatrixFollowUp | None:
    """The matrix's follow-up step, or None when it asks for neither eval nor probes."""
    eval_spec = matrix.sections.get("eval")
    probes = probe_settings(matrix)
    if not eval_spec and not probes:
        return None
    return MatrixFollowUp(eval_spec or None, probes, matrix.path.parent, tuple(plans), matrix.probe_when)
