"""Whether this machine can start the training processes a matrix's cells ask for (`num_processes`)."""

from __future__ import annotations

from collections.abc import Iterable

from axolotl_packing_bench.constants import PROCESSES_AXIS
from axolotl_packing_bench.matrix.problems import Problem
from axolotl_packing_bench.matrix.spec import Cell, Matrix


def processes_problems(matrix: Matrix, cells: Iterable[Cell], *, cores: int | None) -> list[Problem]:
    """A problem when a cell asks for more training processes than `cores` (None: not checked, e.g. a cluster).

    Each rank is a whole training process; two of them on one core only take turns, so such a cell would
    measure the machine's time-sharing, not the run.
    """
    over = [cell for cell in cells if cores and cell.num_processes > cores]
    if not over:
        return []
    most = max(cell.num_processes for cell in over)
    key = f"axes.{PROCESSES_AXIS}" if matrix.axis(PROCESSES_AXIS) is not None else PROCESSES_AXIS
    return [
        Problem(
            str(matrix.path),
            key,
            f"asks for {most} training processes and this machine has {cores} CPU core{'s' if cores != 1 else ''}",
            f"lower num_processes to {cores} or fewer, or run the matrix with --backend ray or slurm "
            "on machines with more cores",
            cells=len(over),
        )
    ]
