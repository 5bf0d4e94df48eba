"""The local backend: cells as processes on this machine, `jobs` at a time.

By default each cell is a child forked from a warm worker that imported
Axolotl once (`running.warm`); a cell with a custom train command, a launcher
other than `python`, or `isolated=True` (`--isolated-process`) runs in a
fresh interpreter under the guard (`core.procguard`). Either way the cell
is one process group, run through `runner.CellRun` (the lifecycle
`run_cell` shares), killed as a group on timeout or stop, and it dies
with the runner.

Everything here runs on the driver's thread (no threads of its own), so the
kernel's parent-death signal, which follows the thread that started a
process, fires only when the runner itself ends.
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
import time
from dataclasses import dataclass
from typing import Any

from axolotl_packing_bench.core.fileio import atomic_write_text
from axolotl_packing_bench.results.store import now_iso
from axolotl_packing_bench.running import load
from axolotl_packing_bench.running.backends.backend import BackendOptions, Outcome
from axolotl_packing_bench.running.runner import (
    CellPlan,
    CellProcess,
    CellRun,
    IsolatedProcess,
    PreparedCell,
    child_env,
    launch_env,
    prepare_cell,
    threads_per_cell,
    train_command,
)
from axolotl_packing_bench.running.warm import AXOLOTL_ENTRY, AXOLOTL_PRELOAD, WarmWorker, WarmWorkerError


class WarmProcess(CellProcess):
    """A cell child forked by the warm worker."""

    def __init__(self, worker: WarmWorker, ident: str, pid: int) -> None:
        super().__init__(pid)
        self.worker, self.ident = worker, ident

    def poll(self) -> int | None:
        if self.exit_code is None:
            ended = self.worker.poll(self.ident)
            if ended is not None:
                self.exit_code, self.cpu_s = ended.code, ended.cpu_s
        return self.exit_code


@dataclass
class _Running:
    run: CellRun
    reading: load.Reading
    beside: int = 0


class LocalBackend:
    """Cells on this machine (see the module docstring)."""

    name = "local"
    runs_follow_up = False

    def __init__(self, options: BackendOptions) -> None:
        self.options = options
        self.slots: int | None = max(1, options.jobs)
        self.env = dict(options.env) if options.env is not None else child_env(options.jobs)
        self.threads = threads_per_cell(options.jobs)
        self.entry = options.train_entry or AXOLOTL_ENTRY
        self.preload: tuple[str, ...] = (
            AXOLOTL_PRELOAD if options.train_entry is None else (options.train_entry.partition(":")[0],)
        )
        self.resolve = options.resolve
        self.worker: WarmWorker | None = None
        self.warm_error: str | None = None
        self.running: dict[str, _Running] = {}
        self.ready: list[Outcome] = []
        self.own = load.OwnCpu()
        self._count = 0

    # -- which path a cell takes ------------------------------------------------
    def warm_path(self, plan: CellPlan) -> bool:
        """Whether the cell runs in a warm worker's child (else a fresh interpreter)."""
        return (
            not self.options.isolated
            and self.options.command is None
            and plan.cell.launcher == "python"
            and plan.cell.num_processes == 1
        )

    def _worker(self) -> WarmWorker | None:
        if self.worker is not None and self.worker.alive:
            return self.worker
        if self.warm_error is not None:
            return None
        log_path = self.options.runs_dir / (self.options.matrix.name if self.options.matrix else "") / "warm-worker.log"
        try:
            self.worker = WarmWorker(env=self.env, preload=self.preload, log_path=log_path)
        except WarmWorkerError as error:
            self.warm_error = str(error)
            print(f"warning: no warm worker ({error}); cells run in fresh processes", file=sys.stderr, flush=True)
            return None
        return self.worker

    # -- protocol ---------------------------------------------------------------
    def submit(self, plan: CellPlan) -> None:
        if self.resolve is None:
            from axolotl_packing_bench.matrix.recipe import default_resolver

            self.resolve = default_resolver()
        prepared = prepare_cell(plan, self.resolve)
        if not isinstance(prepared, PreparedCell):
            self.ready.append(Outcome(plan, prepared))
            return
        timeout = self.options.timeout if self.options.timeout is not None else plan.cell.timeout
        runner: dict[str, Any] = {
            "started_at": now_iso(),
            "timeout_s": timeout,
            "backend": self.name,
            "num_processes": plan.cell.num_processes,
        }
        worker = self._worker() if self.warm_path(plan) else None
        reading = load.read(self.own, self._groups())
        started = time.monotonic()
        if worker is not None:
            argv = (
                ["axolotl", "train", str(prepared.recipe_path), "--launcher", "python"]
                if self.entry == AXOLOTL_ENTRY
                else [self.entry, str(prepared.recipe_path)]
            )
            runner.update(
                command=shlex.join(argv), worker="warm", entry=self.entry, warm_start_s=round(worker.preload_s, 2)
            )  # paid once per run, not by this cell
            atomic_write_text(
                prepared.log_path, f"$ {shlex.join(argv)}  # forked from the warm worker (imports done)\n"
            )
            self._count += 1
            ident = f"{self._count}"
            try:
                pid = worker.spawn(
                    ident,
                    entry=self.entry,
                    config=str(prepared.recipe_path),
                    argv=argv,
                    log=prepared.log_path,
                    cwd=os.getcwd(),
                    env=self.env,
                    threads=self.threads,
                )
                process: CellProcess = WarmProcess(worker, ident, pid)
            except WarmWorkerError as error:
                self.warm_error = str(error)
                worker = None
        if worker is None:
            argv = train_command(
                self.options.train_command, prepared.recipe_path, plan.cell.launcher, plan.cell.num_processes
            )
            runner.update(command=shlex.join(argv), worker="isolated")
            if self.warm_error and self.warm_path(plan):
                runner["warm_error"] = self.warm_error
            atomic_write_text(prepared.log_path, f"$ {shlex.join(argv)}\n")
            process = IsolatedProcess(
                argv, log_path=prepared.log_path, env=launch_env(self.env, plan.cell.num_processes)
            )
        run = CellRun.start(prepared, process, runner, timeout=timeout, started=started)
        for other in self.running.values():
            other.beside = max(other.beside, len(self.running))
        self.running[str(plan.run_dir)] = _Running(run, reading, beside=len(self.running))

    def _groups(self) -> list[int]:
        return [entry.run.process.pid for entry in self.running.values()]

    def poll(self, wait_s: float) -> list[Outcome]:
        deadline = time.monotonic() + wait_s
        while True:
            self._check()
            if self.ready or time.monotonic() >= deadline or not self.running:
                outcomes, self.ready = self.ready, []
                return outcomes
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def _check(self) -> None:
        for key, entry in list(self.running.items()):
            run = entry.run
            code = run.check()
            if code is None:
                continue
            del self.running[key]
            self.own.finished_s += run.process.cpu_s or 0.0
            wall = run.wall_s
            end = load.read(self.own, self._groups())
            result = run.finish(
                code,
                load=load.summarize(
                    entry.reading, end, wall_s=wall, cells_beside=entry.beside, threads_per_cell=self.threads
                ),
            )
            self.ready.append(Outcome(run.prepared.plan, result))

    def cancel(self) -> None:
        for entry in self.running.values():
            entry.run.process.signal_group(signal.SIGTERM)
        for entry in self.running.values():
            entry.run.stop(grace=2.0)
        self.running.clear()
        self.ready.clear()

    def close(self) -> None:
        if self.running:
            self.cancel()
        if self.worker is not None:
            self.worker.close()
            self.worker = None
