"""Run matrix cells as Ray tasks; the driver alone records results.

Each planned cell becomes one Ray task asking for the cell's `Resources`
(`num_cpus`, `num_gpus`). On whichever node Ray places it, the task calls
`runner.run_cell` (so the cell trains with the same `axolotl train ...
--launcher <launcher>` command as locally; multi-GPU cells use Axolotl's own
accelerate path on the GPUs Ray assigned through CUDA_VISIBLE_DEVICES) and
returns the `RunResult`, `train.log` and `packbench_metrics.json` as its
value: workers need not share a file system with the driver. The driver
writes them back under its own `runs/<matrix>/<cell_id>/`, appends the
result, and re-renders the leaderboard as each cell finishes. The driver is
the only writer of the results store.

A worker that dies (preemption, OOM kill, lost node) surfaces as a Ray
error; the cell is recorded as failed with that reason. `retries` re-runs a
failed cell up to that many more times (every attempt is recorded; the
latest wins). Rerunning the matrix skips cells whose latest result is ok,
as the local backend does.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from axolotl_packing_bench.bench.fileio import atomic_write_text
from axolotl_packing_bench.bench.matrix import Cell
from axolotl_packing_bench.bench.results import RunResult, now_iso
from axolotl_packing_bench.bench.runner import (
    DEFAULT_TRAIN_COMMAND,
    METRICS_FILE,
    CellPlan,
    Progress,
    RunSummary,
    record_result,
)
from axolotl_packing_bench.bench.trainlog import one_sentence
from axolotl_packing_bench.cluster.resources import Resources

MAX_LOG_BYTES = 8 * 1024 * 1024
"""The log brought back to the driver is cut to its last 8 MiB."""


def cell_task(
    cell: Cell, run_dir: str, command: Sequence[str], timeout: float | None, cpus: int
) -> dict[str, Any]:
    """Body of the Ray task: train one cell on this node, return what the driver records.

    Returns:
        `{"result": RunResult dict or None, "log": str | None, "metrics": str | None, "node": hostname}`.
    """
    from axolotl_packing_bench.bench.runner import child_env, run_cell

    env = child_env()  # this node's environment, including Ray's CUDA_VISIBLE_DEVICES
    env.setdefault("OMP_NUM_THREADS", str(cpus))
    result = run_cell(cell, run_dir, command=command, timeout=timeout, env=env)
    path = Path(run_dir)
    return {
        "result": result.to_dict() if result is not None else None,
        "log": _read_tail(path / "train.log"),
        "metrics": _read_text(path / "output" / METRICS_FILE),
        "node": socket.gethostname(),
    }


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _read_tail(path: Path) -> str | None:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - MAX_LOG_BYTES))
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return None


def _shown(path: Path) -> str:
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative


def bring_back(payload: Mapping[str, Any], run_dir: Path) -> RunResult | None:
    """Write the task's log and metrics under the driver's `run_dir`; return its result."""
    if payload.get("result") is None:
        return None
    for relative, text in (
        ("train.log", payload.get("log")),
        (f"output/{METRICS_FILE}", payload.get("metrics")),
    ):
        if text is None:
            continue
        target = run_dir / relative
        if _read_text(target) != text:  # on a shared file system it is already there
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(target, text)
    result = RunResult.from_dict(payload["result"])
    metrics = dict(result.metrics)
    runner = dict(metrics.get("runner") or {})
    runner.update(backend="ray", node=payload.get("node"))
    metrics["runner"] = runner
    return result.replace(metrics=metrics, log=_shown(run_dir / "train.log"))


def lost_result(cell: Cell, run_dir: Path, error: BaseException) -> RunResult:
    """A failed result for a task Ray lost (worker or node died, task raised)."""
    import ray.exceptions as rex

    if isinstance(
        error,
        (
            rex.WorkerCrashedError,
            rex.NodeDiedError,
            rex.OwnerDiedError,
            rex.ActorDiedError,
        ),
    ):
        what = "the Ray worker died (preempted, killed or out of memory)"
    elif isinstance(error, rex.TaskCancelledError):
        what = "the Ray task was cancelled"
    elif isinstance(error, rex.RayTaskError):
        what = "the Ray task raised"
    else:
        what = "Ray could not run the cell"
    first = str(error).strip().splitlines()
    detail = f"{type(error).__name__}: {first[-1] if first else ''}".strip()
    return RunResult(
        run_id=uuid.uuid4().hex,
        cell_id=cell.cell_id,
        matrix=cell.matrix,
        status="failed",
        reason=one_sentence(f"{what}: {detail}"),
        axes=dict(cell.axes),
        labels=dict(cell.labels),
        metrics={"runner": {"backend": "ray", "finished_at": now_iso()}},
        recorded_at=now_iso(),
        log=_shown(run_dir / "train.log"),
    )


def connect(address: str | None) -> None:
    """Join the Ray cluster at `address` (None: RAY_ADDRESS, else a new local one), once."""
    import ray

    if ray.is_initialized():
        return
    ray.init(
        address=address,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
    )


def unplaceable(need: Resources, nodes: Sequence[Mapping[str, Any]]) -> str | None:
    """Why no node of the cluster can run a cell asking for `need` now, or None when one can.

    `nodes` is `ray.nodes()`: alive nodes carry `Resources` totals ({"CPU": 16, "GPU": 8}).
    """
    alive = [node.get("Resources") or {} for node in nodes if node.get("Alive", True)]
    if any(
        res.get("CPU", 0) >= need.cpus and res.get("GPU", 0) >= need.gpus
        for res in alive
    ):
        return None
    most_gpus = max((int(res.get("GPU", 0)) for res in alive), default=0)
    most_cpus = max((int(res.get("CPU", 0)) for res in alive), default=0)
    return f"asks for {need.gpus} GPUs and {need.cpus} CPUs on one node; the largest node has {most_gpus} GPUs and {most_cpus} CPUs"


def run_matrix_ray(
    plans: Sequence[CellPlan],
    *,
    results_path: str | Path,
    leaderboard_path: str | Path | None,
    resources: Callable[[Cell], Resources],
    command: Sequence[str] = DEFAULT_TRAIN_COMMAND,
    timeout: float | None = None,
    retries: int = 0,
    address: str | None = None,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    poll_s: float = 0.25,
) -> RunSummary:
    """Run the planned cells on Ray, recording each result on this (driver) process.

    Args:
        plans: From `runner.plan_cells`; skipped plans are not run.
        results_path: The results JSONL (only this process writes it).
        leaderboard_path: Re-rendered after each result (None: don't).
        resources: What each cell asks Ray for.
        command: Train command template, as for the local runner.
        timeout: Per-cell timeout overriding each cell's own.
        retries: Extra attempts for a cell that fails or whose worker dies.
        address: Ray cluster address (None: RAY_ADDRESS or a new local cluster).
        stop: Set it to cancel running tasks (nothing is recorded for them).
        progress: Where progress goes (default: stderr).
        poll_s: How often to check for finished tasks and `stop`.
    """
    import ray

    stop = stop or threading.Event()
    to_run = [plan for plan in plans if not plan.skip]
    progress = progress or Progress(total=len(to_run))
    finished: list[RunResult] = []
    if to_run:
        connect(address)
    remote = ray.remote(max_retries=0, retry_exceptions=False)(cell_task)
    running: dict[Any, tuple[CellPlan, float, int]] = {}

    def submit(plan: CellPlan, attempt: int) -> None:
        need = resources(plan.cell)
        cell_timeout = (
            timeout if timeout is not None else (plan.cell.timeout or need.time_s)
        )
        ref = remote.options(
            num_cpus=need.cpus,
            num_gpus=need.gpus,
            name=f"packbench:{plan.cell.cell_id}",
        ).remote(plan.cell, str(plan.run_dir), tuple(command), cell_timeout, need.cpus)
        running[ref] = (plan, time.monotonic(), attempt)
        progress.start(plan)

    if to_run:
        nodes = ray.nodes()
        for plan in to_run:
            why = unplaceable(resources(plan.cell), nodes)
            if why:  # Ray waits (an autoscaler may add such a node); say so rather than hang silently
                progress.line(
                    f"waiting {plan.cell.cell_id} {why}; Ray holds it until such a node joins (see `resources:`)"
                )
    for plan in to_run:
        submit(plan, 0)
    while running and not stop.is_set():
        done, _ = ray.wait(list(running), num_returns=1, timeout=poll_s)
        for ref in done:
            plan, began, attempt = running.pop(ref)
            try:
                result = bring_back(ray.get(ref), plan.run_dir)
            except Exception as error:  # noqa: BLE001 - a lost task fails its cell only
                result = lost_result(plan.cell, plan.run_dir, error)
            if result is None:
                continue
            if not result.ok and attempt < retries:
                result = result.replace(
                    reason=one_sentence(
                        f"attempt {attempt + 1} of {retries + 1}: {result.reason}"
                    )
                )
                record_result(result, results_path, leaderboard_path)
                progress.line(
                    f"retry   {plan.cell.cell_id} (attempt {attempt + 2} of {retries + 1}): {result.reason}"
                )
                submit(plan, attempt + 1)
                continue
            record_result(result, results_path, leaderboard_path)
            finished.append(result)
            progress.finish(plan, result, time.monotonic() - began)
    if (
        running
    ):  # stopped: cancel (KeyboardInterrupt in the task kills its training), then force
        for ref in running:
            with contextlib.suppress(Exception):
                ray.cancel(ref)
        with contextlib.suppress(Exception):
            ray.wait(list(running), num_returns=len(running), timeout=15)
        for ref in running:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
    return RunSummary(
        results=tuple(finished),
        skipped=sum(plan.skip for plan in plans),
        interrupted=stop.is_set(),
        not_run=len(to_run) - len(finished),
    )
