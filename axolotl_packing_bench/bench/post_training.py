"""What runs after a cell trains: the matrix's `eval:` section (and later probes).

The training result is recorded before any evaluation starts, so a failed or
interrupted evaluation never loses it; the evaluated result is recorded again
afterwards (the latest line per run id wins).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

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
    if not eval_spec:
        return None

    def evaluate(plan: CellPlan, result: RunResult) -> RunResult:
        if not result.ok:
            return result
        record_result(result, results_path, leaderboard_path)
        from axolotl_packing_bench.eval.section import run_eval_section
        from axolotl_packing_bench.eval.store import attach_evaluation

        outcome = run_eval_section(
            plan.run_dir / "output",
            eval_spec,
            baseline_run_dir=padding_run_dir(plan, plans),
            base_dir=matrix.path.parent,
        )
        return attach_evaluation(result, outcome)

    return evaluate
