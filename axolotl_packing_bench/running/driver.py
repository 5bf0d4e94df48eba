"""The one driver loop of `packbench run`, the same for every backend.

    plans ──submit──► backend ──poll──► outcomes ──► record ──► follow-up (eval, probes) ──► record
                                                        └──► progress

The driver keeps at most `backend.slots` cells (and driver-side follow-ups)
in flight, records every training result as soon as it arrives (before any
follow-up starts), runs the follow-up itself unless the backend runs it
where the model is (`runs_follow_up`), and on `stop` cancels the backend:
running cells are killed and nothing is recorded for them.

With `claims_in` (the results file), each cell is claimed there
(`results.claims`) before it is handed to a backend that trains it from this
process tree, and released once its result is recorded: a cell another run
holds, or recorded since this run planned, is skipped with a line. A backend
whose engine trains and records cells itself (`hands_off`, Slurm: each task
claims its own cell) is not claimed for.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from axolotl_packing_bench.core.text import one_sentence
from axolotl_packing_bench.report.publish import record_result
from axolotl_packing_bench.results.claims import Claim, claim, ok_runs
from axolotl_packing_bench.results.store import RunResult
from axolotl_packing_bench.running.backends.backend import Backend, FollowUp
from axolotl_packing_bench.running.runner import CellPlan, Progress, RunSummary


@dataclass(frozen=True)
class Recorder:
    """Where results go: the results file and the leaderboard re-rendered after each."""

    results_path: Path
    leaderboard_path: Path | None

    def __call__(self, result: RunResult) -> None:
        record_result(result, self.results_path, self.leaderboard_path)


def drive(
    plans: Sequence[CellPlan],
    backend: Backend,
    *,
    record: Callable[[RunResult], None],
    follow_up: FollowUp | None = None,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    heartbeat_s: float = 60.0,
    poll_s: float = 0.25,
    claims_in: Path | None = None,
) -> tuple[RunSummary, int]:
    """Run the planned cells on `backend`, recording each result as it arrives.

    Returns:
        The summary, and how many cells were handed off to an engine that
        records them itself (Slurm).
    """
    stop = stop or threading.Event()
    to_run = deque(plan for plan in plans if not plan.skip)
    progress = progress or Progress(total=len(to_run))
    in_flight: dict[Path, float] = {}
    follow_ups: dict[Future, tuple[CellPlan, float, RunResult]] = {}
    finished: list[RunResult] = []
    handed_off = 0
    last_beat = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=max(1, backend.slots or 1), thread_name_prefix="packbench-follow-up")
    claims_path = None if getattr(backend, "hands_off", False) else claims_in
    ok_at_start = ok_runs(claims_path) if claims_path is not None else set()
    held: dict[Path, Claim] = {}
    taken_elsewhere = 0

    def take(plan: CellPlan) -> bool:
        """Claim the plan's cell; False (said and counted as skipped) when another run holds or just recorded it."""
        nonlocal taken_elsewhere
        if claims_path is None:
            return True
        got = claim(claims_path, plan.cell.cell_id, plan.repeat)
        if isinstance(got, str):
            reason = f"claimed by {got}"
        elif (plan.cell.matrix, plan.cell.cell_id, plan.repeat) in ok_runs(claims_path) - ok_at_start:
            got.release()
            reason = "another run recorded it while this one ran"
        else:
            held[plan.run_dir] = got
            return True
        progress.line(f"skipped {plan.label}: {reason}")
        taken_elsewhere += 1
        progress.total -= 1
        return False

    def release(plan: CellPlan) -> None:
        held_claim = held.pop(plan.run_dir, None)
        if held_claim is not None:
            held_claim.release()

    def finish(plan: CellPlan, result: RunResult) -> None:
        release(plan)
        finished.append(result)
        progress.finish(plan, result, time.monotonic() - in_flight.pop(plan.run_dir, time.monotonic()))

    try:
        while (to_run or in_flight) and not stop.is_set():
            while to_run and not stop.is_set() and (backend.slots is None or len(in_flight) < backend.slots):
                plan = to_run.popleft()
                if not take(plan):
                    continue
                progress.start(plan)
                in_flight[plan.run_dir] = time.monotonic()
                try:
                    backend.submit(plan)
                except Exception as error:  # noqa: BLE001 - a bug in one cell must not stop the others
                    result = RunResult.failed(
                        plan.cell, one_sentence(f"packbench could not run the cell: {error!r}"), repeat=plan.repeat
                    )
                    record(result)
                    finish(plan, result)
            outcomes = backend.poll(poll_s if in_flight else 0.0)
            if not outcomes and follow_ups:
                wait(follow_ups, timeout=poll_s, return_when=FIRST_COMPLETED)
            for outcome in outcomes:
                plan, result = outcome.plan, outcome.result
                if outcome.stage == "handed_off":
                    handed_off += 1
                    in_flight.pop(plan.run_dir, None)
                    continue
                if result is None or (
                    stop.is_set() and not result.ok
                ):  # stopped (or killed by the stop): record nothing
                    in_flight.pop(plan.run_dir, None)
                    release(plan)
                    continue
                record(result)
                if outcome.stage == "attempt":
                    continue
                if outcome.stage == "final" or not result.ok or follow_up is None:
                    finish(plan, result)
                elif not backend.runs_follow_up:
                    follow_ups[pool.submit(follow_up, plan, result)] = (plan, 0.0, result)
            for future in [future for future in follow_ups if future.done()]:
                plan, _, trained = follow_ups.pop(future)
                try:
                    result = future.result()
                except Exception as error:  # noqa: BLE001 - keep the trained result, say why eval is missing
                    progress.line(f"follow-up of {plan.label} failed: {error!r}; its training result is kept")
                    result = trained
                if result is not trained:
                    record(result)
                finish(plan, result)
            if in_flight and time.monotonic() - last_beat >= heartbeat_s:
                last_beat = time.monotonic()
                running = {plan.run_dir: plan for plan in plans}
                for run_dir, began in in_flight.items():
                    progress.still_running(running[run_dir], time.monotonic() - began)
    finally:
        if stop.is_set() or in_flight:
            backend.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        backend.close()
        for held_claim in held.values():  # cells stopped, or an error out of the loop: free them for the next run
            held_claim.release()
    return (
        RunSummary(
            results=tuple(finished),
            skipped=sum(plan.skip for plan in plans) + taken_elsewhere,
            interrupted=stop.is_set(),
            not_run=sum(not plan.skip for plan in plans) - len(finished) - handed_off - taken_elsewhere,
        ),
        handed_off,
    )
