"""One matrix cell as one batch task: train it, record it, follow up. Used by the Slurm scripts.

    python -m axolotl_packing_bench.running.task --matrix M.yaml --cell CELL_ID [--repeat N] \
        [--runs-dir runs] [--results R.jsonl] [--leaderboard L.md] [--train-command T] [--fresh]

It runs the cell's `axolotl train` exactly as `packbench run` does
(`runner.run_cell`: recipe, log, timeout, failure reasons) and then appends
the result to the shared results file (fcntl lock + append + fsync) and
re-renders the leaderboard under a second lock, so tasks finishing at once
on several nodes neither lose a line nor leave a stale leaderboard. Then it
runs the matrix's eval and probes on the trained model, here on the node
that holds it, and records the evaluated result the same way. A cell whose
latest result is already ok is skipped (unless --fresh), so resubmitting an
array resumes it. Before training, the task claims the cell in the results
file (`results.claims`); a cell another run holds (a local `packbench run`,
another array) is left to it, exit 0. The claim is released once the result
is recorded, and on SIGTERM/SIGINT (`scancel`), which stop the training and
record nothing. Exit status 0 when the cell is ok (or skipped), 1 when it
failed or was stopped.

`packbench record RUN_DIR` is not used here because it derives a cell id from
the metrics alone, while matrix cell ids also hash the recipe; and a crashed
training writes no metrics to record.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from axolotl_packing_bench.constants import DEFAULT_LEADERBOARD, DEFAULT_RESULTS
from axolotl_packing_bench.core.fileio import locked

if TYPE_CHECKING:
    from axolotl_packing_bench.matrix.spec import Matrix
    from axolotl_packing_bench.running.runner import CellPlan


def record_locked(result, results_path: Path, leaderboard_path: Path | None) -> None:
    """`publish.record_result` under an exclusive lock on `<results>.lock` (append then render, atomically)."""
    from axolotl_packing_bench.report.publish import record_result

    with locked(f"{results_path}.lock", across_nodes=True):  # the cells of a Slurm array share it over NFS
        record_result(result, results_path, leaderboard_path)


def main(argv: list[str] | None = None) -> int:
    from axolotl_packing_bench.core.fileio import UnwritableFile
    from axolotl_packing_bench.results.kinds import WrongKindOfFile

    try:
        return _main(argv)
    except (UnwritableFile, WrongKindOfFile) as error:  # a full disk, a board as --results...: one sentence
        print(f"packbench: {error}", file=sys.stderr)
        return 1


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m axolotl_packing_bench.running.task",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--matrix", required=True, type=Path)
    parser.add_argument("--cell", required=True, help="cell id")
    parser.add_argument("--runs-dir", default="runs", type=Path)
    parser.add_argument("--results", default=DEFAULT_RESULTS, type=Path)
    parser.add_argument("--leaderboard", default=DEFAULT_LEADERBOARD, type=Path)
    parser.add_argument("--train-command", default=None)
    parser.add_argument("--timeout", default=None, type=float, help="seconds")
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--repeat", default=0, type=int, help="which repeat of the cell (0: the first)")
    args = parser.parse_args(argv)
    from axolotl_packing_bench.results.kinds import check_board_path, check_results_path

    check_results_path(args.results)  # before training: a swapped pair of paths wastes no cell
    check_board_path(args.leaderboard)

    from axolotl_packing_bench.matrix.spec import expand, load_matrix
    from axolotl_packing_bench.results.store import done_repeats, read_results
    from axolotl_packing_bench.running import runner

    matrix = load_matrix(args.matrix)
    cells = [cell for cell in expand(matrix) if cell.cell_id == args.cell]
    if not cells:
        print(
            f"packbench: matrix {args.matrix} has no cell {args.cell}; "
            "regenerate the Slurm script after editing the matrix.",
            file=sys.stderr,
        )
        return 2
    results = read_results(args.results) if args.results.exists() else []
    plan = runner.plan_cells(cells, results, runs_dir=args.runs_dir, fresh=args.fresh, repeats=args.repeat + 1)[-1]
    if plan.skip:
        print(f"packbench: cell {args.cell} is already ok in {args.results}; skipped (pass --fresh to rerun)")
        return 0
    from axolotl_packing_bench.results.claims import claim

    held = claim(args.results, args.cell, plan.repeat)
    if isinstance(held, str):
        print(f"packbench: cell {args.cell} is claimed by {held}; left to that run")
        return 0
    try:
        if not args.fresh and plan.repeat in done_repeats(read_results(args.results, warn=False), matrix.name).get(
            args.cell, set()
        ):  # recorded by another run between the check above and the claim
            print(f"packbench: cell {args.cell} is already ok in {args.results}; skipped (pass --fresh to rerun)")
            return 0
        stop = threading.Event()
        with runner.stop_on_signals(stop):  # scancel: stop the training, release the claim, record nothing
            return _train(args, matrix, plan, stop)
    finally:
        held.release()


def _train(args: argparse.Namespace, matrix: Matrix, plan: CellPlan, stop: threading.Event) -> int:
    """Train the claimed cell, record it, run its follow-up and record that too."""
    from axolotl_packing_bench.matrix.spec import expand
    from axolotl_packing_bench.running import runner
    from axolotl_packing_bench.running.follow_up import follow_up_for

    command = runner.parse_train_command(args.train_command) if args.train_command else runner.DEFAULT_TRAIN_COMMAND
    timeout = args.timeout if args.timeout is not None else plan.cell.timeout
    result = runner.run_cell(plan.cell, plan.run_dir, command=command, timeout=timeout, repeat=plan.repeat, stop=stop)
    if result is None or stop.is_set():  # a failure the stop caused is not the cell's
        print(f"packbench: cell {args.cell} was stopped by a signal; nothing recorded", file=sys.stderr)
        return 1
    metrics = dict(result.metrics)
    metrics["runner"] = {
        **dict(metrics.get("runner") or {}),
        "backend": "slurm",
        "job": _job_id(),
    }
    result = result.replace(metrics=metrics)
    record_locked(result, args.results, args.leaderboard)
    follow_up = follow_up_for(
        matrix, runner.plan_cells(expand(matrix), [], runs_dir=args.runs_dir, repeats=args.repeat + 1)
    )
    if follow_up is not None and result.ok:
        evaluated = follow_up(plan, result)
        if evaluated is not result:
            result = evaluated
            record_locked(result, args.results, args.leaderboard)
    print(f"packbench: cell {args.cell}: {result.status}" + (f" ({result.reason})" if result.reason else ""))
    return 0 if result.ok else 1


def _job_id() -> str | None:
    job, task = (
        os.environ.get("SLURM_ARRAY_JOB_ID"),
        os.environ.get("SLURM_ARRAY_TASK_ID"),
    )
    return f"{job}_{task}" if job and task else os.environ.get("SLURM_JOB_ID")


if __name__ == "__main__":
    raise SystemExit(main())
