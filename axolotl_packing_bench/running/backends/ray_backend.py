"""Run matrix cells as Ray tasks; the driver alone records results.

Each planned cell becomes one Ray task asking for the cell's `Resources`
(`num_cpus`, `num_gpus`). On whichever node Ray places it, the task calls
`runner.run_cell` (so the cell trains with the same `axolotl train ...
--launcher <launcher>` command as locally, `num_processes` ranks included;
multi-GPU cells use Axolotl's own launcher on the GPUs Ray assigned through
CUDA_VISIBLE_DEVICES, one GPU per rank, see `resources`) and
returns the `RunResult`, `train.log` and `packbench_metrics.json` as its
value: workers need not share a file system with the driver. The driver
writes them back under its own `runs/<matrix>/<cell_id>/`, appends the
result, and re-renders the leaderboard as each cell finishes. The driver is
the only writer of the results store. The matrix's eval and probes run in
the same task right after training, on the node that holds the trained
model; the task returns the training result and the evaluated one, and the
driver records both, in that order (a worker lost during evaluation loses
the training result too: the cell is then failed and rerun).

A worker that dies (preemption, OOM kill, lost node) surfaces as a Ray
error; the cell is recorded as failed with that reason. `retries` re-runs a
failed cell up to that many more times (every attempt is recorded; the
latest wins). Rerunning the matrix skips cells whose latest result is ok,
as the local backend does.
"""

from __future__ import annotations

import contextlib
import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from axolotl_packing_bench.core.fileio import atomic_write_text, read_tail
from axolotl_packing_bench.core.text import one_sentence, shown_path
from axolotl_packing_bench.matrix.spec import Cell
from axolotl_packing_bench.results.store import RunResult, now_iso
from axolotl_packing_bench.running.backends.backend import BackendOptions, FollowUp, Outcome
from axolotl_packing_bench.running.backends.resources import Resources
from axolotl_packing_bench.running.runner import CellPlan

MAX_LOG_BYTES = 8 * 1024 * 1024
"""The log brought back to the driver is cut to its last 8 MiB."""


def cell_task(
    cell: Cell,
    run_dir: str,
    command: Sequence[str],
    timeout: float | None,
    cpus: int,
    repeat: int = 0,
    follow_up: FollowUp | None = None,
) -> dict[str, Any]:
    """Body of the Ray task: train one cell on this node (then its follow-up), return what the driver records.

    Returns:
        `{"result": RunResult dict or None, "final": evaluated RunResult dict or None, "log": str | None,
        "metrics": str | None, "metrics_file": name, "node": hostname}`.
    """
    from axolotl_packing_bench.running.runner import child_env, run_cell

    env = child_env()  # this node's environment, including Ray's CUDA_VISIBLE_DEVICES
    env.setdefault("OMP_NUM_THREADS", str(cpus))
    result = run_cell(cell, run_dir, command=command, timeout=timeout, env=env, repeat=repeat)
    path = Path(run_dir)
    final = None
    if result is not None and result.ok and follow_up is not None:
        final = follow_up(CellPlan(cell, path, repeat=repeat), result)
    metrics_file = _metrics_file(path)
    return {
        "result": result.to_dict() if result is not None else None,
        "final": final.to_dict() if final is not None else None,
        "log": _read_tail(path / "train.log"),
        "metrics": _read_text(path / "output" / metrics_file),
        "metrics_file": metrics_file,
        "node": socket.gethostname(),
    }


def _metrics_file(run_dir: Path) -> str:
    from axolotl_packing_bench.matrix.recipe import run_metrics_name

    return run_metrics_name(run_dir)


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _read_tail(path: Path) -> str | None:
    return read_tail(path, MAX_LOG_BYTES) if path.is_file() else None


def bring_back(payload: Mapping[str, Any], run_dir: Path, key: str = "result") -> RunResult | None:
    """Write the task's log and metrics under the driver's `run_dir`; return its result (or its `final` one)."""
    if payload.get(key) is None:
        return None
    for relative, text in (
        ("train.log", payload.get("log")),
        (f"output/{payload.get('metrics_file') or _metrics_file(run_dir)}", payload.get("metrics")),
    ):
        if text is None:
            continue
        target = run_dir / relative
        if _read_text(target) != text:  # on a shared file system it is already there
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(target, text)
    result = RunResult.from_dict(payload[key])
    metrics = dict(result.metrics)
    runner = dict(metrics.get("runner") or {})
    runner.update(backend="ray", node=payload.get("node"))
    metrics["runner"] = runner
    return result.replace(metrics=metrics, log=shown_path(run_dir / "train.log"))


def lost_result(cell: Cell, run_dir: Path, error: BaseException, repeat: int = 0) -> RunResult:
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
    return RunResult.failed(
        cell,
        one_sentence(f"{what}: {detail}"),
        metrics={"runner": {"backend": "ray", "finished_at": now_iso()}},
        log=shown_path(run_dir / "train.log"),
        repeat=repeat,
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
    if any(res.get("CPU", 0) >= need.cpus and res.get("GPU", 0) >= need.gpus for res in alive):
        return None
    most_gpus = max((int(res.get("GPU", 0)) for res in alive), default=0)
    most_cpus = max((int(res.get("CPU", 0)) for res in alive), default=0)
    return (
        f"asks for {need.gpus} GPUs and {need.cpus} CPUs on one node; "
        f"the largest node has {most_gpus} GPUs and {most_cpus} CPUs"
    )


class RayBackend:
    """`--backend ray`: one Ray task per planned cell; this (driver) process records every result."""

    name = "ray"
    slots: int | None = None  # Ray queues the tasks until a node has the resources
    runs_follow_up = True

    def __init__(self, options: BackendOptions, *, poll_s: float = 0.25) -> None:
        from axolotl_packing_bench.running.backends.resources import ResourcesError, matrix_resources

        if options.matrix is not None:
            try:
                self.resources = matrix_resources(options.matrix).for_cell
            except ResourcesError as error:
                raise ValueError(str(error)) from None
        else:
            self.resources = options.extra["resources"]
        self.options = options
        self.retries = int(options.extra.get("retries") or 0)
        self.running: dict[Any, tuple[CellPlan, int]] = {}
        self.remote = None
        self.nodes_checked = False

    def _remote(self):
        import ray

        if self.remote is None:
            connect(self.options.extra.get("ray_address"))
            self.remote = ray.remote(max_retries=0, retry_exceptions=False)(cell_task)
        return self.remote

    def submit(self, plan: CellPlan, attempt: int = 0) -> None:
        import ray

        remote = self._remote()
        need = self.resources(plan.cell)
        if not self.nodes_checked:
            self.nodes_checked = True
            self._nodes = ray.nodes()
        why = unplaceable(need, self._nodes) if attempt == 0 else None
        if why:  # Ray waits (an autoscaler may add such a node); say so rather than hang silently
            print(
                f"waiting {plan.label} {why}; Ray holds it until such a node joins (see `resources:`)",
                file=sys.stderr,
                flush=True,
            )
        timeout = self.options.timeout if self.options.timeout is not None else (plan.cell.timeout or need.time_s)
        ref = remote.options(num_cpus=need.cpus, num_gpus=need.gpus, name=f"packbench:{plan.cell.cell_id}").remote(
            plan.cell,
            str(plan.run_dir),
            tuple(self.options.train_command),
            timeout,
            need.cpus,
            plan.repeat,
            self.options.follow_up,
        )
        self.running[ref] = (plan, attempt)

    def poll(self, wait_s: float) -> list[Outcome]:
        import ray

        if not self.running:
            return []
        done, _ = ray.wait(list(self.running), num_returns=1, timeout=wait_s)
        outcomes: list[Outcome] = []
        for ref in done:
            plan, attempt = self.running.pop(ref)
            final = None
            try:
                payload = ray.get(ref)
                result = bring_back(payload, plan.run_dir)
                final = bring_back(payload, plan.run_dir, "final")
            except Exception as error:  # noqa: BLE001 - a lost task fails its cell only
                result = lost_result(plan.cell, plan.run_dir, error, plan.repeat)
            if result is None:
                outcomes.append(Outcome(plan, None))
                continue
            if not result.ok and attempt < self.retries:
                result = result.replace(
                    reason=one_sentence(f"attempt {attempt + 1} of {self.retries + 1}: {result.reason}")
                )
                print(
                    f"retry   {plan.label} (attempt {attempt + 2} of {self.retries + 1}): {result.reason}",
                    file=sys.stderr,
                    flush=True,
                )
                outcomes.append(Outcome(plan, result, "attempt"))
                self.submit(plan, attempt + 1)
                continue
            if final is not None:
                outcomes += [Outcome(plan, result, "trained"), Outcome(plan, final, "final")]
            else:
                outcomes.append(Outcome(plan, result, "final"))
        return outcomes

    def cancel(self) -> None:
        """Cancel running tasks (KeyboardInterrupt in the task kills its training), then force those still running.

        Only tasks that did not end within the grace period are force-cancelled: force-cancelling one
        that has just ended races its completion, which Ray 2.60 answers by aborting the driver
        ("Tried to complete task that was not pending").
        """
        import ray

        running, self.running = list(self.running), {}
        for ref in running:
            with contextlib.suppress(Exception):
                ray.cancel(ref)
        still_running = running
        with contextlib.suppress(Exception):
            _, still_running = ray.wait(running, num_returns=len(running), timeout=15)
        for ref in still_running:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)

    def close(self) -> None:
        pass
