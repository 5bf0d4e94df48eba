"""Run matrix cells with `axolotl train`, one process per cell, and record results.

Three steps, kept apart so that another backend (Ray, Slurm) can call the
middle one on a worker and the last one on the driver:

1. `plan_cells`: which cells to run and which are already done (their latest
   result in `results.jsonl` is ok for this matrix), pure.
2. `run_cell`: render the cell's recipe (URIs resolved) into
   `runs/<matrix>/<cell_id>/recipe.yml`, run the train command in its own
   process group with its output in `train.log`, enforce the timeout, and
   return a `RunResult` (None when stopped by the user). Never raises for a
   failed cell: a crash is a result.
3. `record_result`: append the result (locked) and re-render the leaderboard
   (atomically).

`run_matrix` drives them locally, `jobs` cells at a time, reporting progress
on stderr. Stopping (Ctrl-C) kills every running cell's process group,
records nothing for them, and leaves finished results as they are.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from axolotl_packing_bench.bench.environment import collect_hardware, collect_versions
from axolotl_packing_bench.bench.fileio import atomic_write_text
from axolotl_packing_bench.bench.leaderboard import render_leaderboard
from axolotl_packing_bench.bench.matrix import Cell
from axolotl_packing_bench.bench.recipe import cell_run_dir, render_recipe
from axolotl_packing_bench.bench.results import RunResult, append_result, done_cells, now_iso, read_results
from axolotl_packing_bench.bench.trainlog import last_error_line, metrics_from_log, one_sentence, read_tail

DEFAULT_TRAIN_COMMAND = ("{python}", "-m", "axolotl.cli.main", "train", "{config}", "--launcher", "{launcher}")
"""`axolotl train <recipe> --launcher <launcher>`, through the interpreter running packbench."""

METRICS_FILE = "packbench_metrics.json"
KILL_GRACE_S = 10.0


def train_command(template: Sequence[str], config: str | Path, launcher: str = "python") -> list[str]:
    """The argv of one training run: `{config}`, `{launcher}`, `{python}` filled in."""
    values = {"config": str(config), "launcher": launcher, "python": sys.executable}
    return [part.format(**values) for part in template]


def parse_train_command(text: str) -> tuple[str, ...]:
    """A shell-like command template, e.g. `accelerate launch -m axolotl.cli.train {config}`."""
    parts = tuple(shlex.split(text))
    if not parts or not any("{config}" in part for part in parts):
        raise ValueError("the train command must contain {config}")
    return parts


def child_env(jobs: int = 1, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a training process.

    Offline by default (`HF_HUB_OFFLINE=1`, no W&B, no telemetry) unless the
    caller's environment says otherwise, unbuffered output for the log, and
    the CPU threads shared out between parallel cells.
    """
    env = dict(os.environ if base is None else base)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("WANDB_MODE", "disabled")
    env.setdefault("AXOLOTL_DO_NOT_TRACK", "1")
    env["PYTHONUNBUFFERED"] = "1"
    if jobs > 1:
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // jobs)))
    return env


# ---------------------------------------------------------------- 1. plan


@dataclass(frozen=True)
class CellPlan:
    """A cell, where it runs, and whether it runs or is skipped as done."""

    cell: Cell
    run_dir: Path
    skip: bool = False


def plan_cells(
    cells: Sequence[Cell],
    results: Sequence[RunResult],
    *,
    runs_dir: str | Path,
    fresh: bool = False,
) -> list[CellPlan]:
    """Plan every cell; those whose latest result is ok are skipped unless `fresh`."""
    done: set[str] = set()
    if not fresh:
        for matrix in {cell.matrix for cell in cells}:
            done |= {f"{matrix}\0{cell_id}" for cell_id in done_cells(results, matrix)}
    return [
        CellPlan(cell, cell_run_dir(runs_dir, cell).absolute(), skip=f"{cell.matrix}\0{cell.cell_id}" in done)
        for cell in cells
    ]


# ---------------------------------------------------------------- 2. run one cell


def _kill_group(process: subprocess.Popen, grace: float = KILL_GRACE_S) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after `grace` seconds."""
    for sig, wait_s in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def _read_metrics(output_dir: Path) -> dict[str, Any] | None:
    path = output_dir / METRICS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _result(cell: Cell, run_dir: Path, status: str, reason: str | None, metrics: dict[str, Any], runner: dict[str, Any]) -> RunResult:
    metrics = dict(metrics)
    metrics.setdefault("versions", None)
    metrics.setdefault("hardware", None)
    if not metrics["versions"]:
        metrics["versions"] = collect_versions()
    if not metrics["hardware"]:
        metrics["hardware"] = collect_hardware()
    metrics["runner"] = runner
    return RunResult(
        run_id=str(metrics.get("run_id") or uuid.uuid4().hex),
        cell_id=cell.cell_id,
        matrix=cell.matrix,
        status=status,
        reason=reason,
        axes=dict(cell.axes),
        labels=dict(cell.labels),
        metrics=metrics,
        recorded_at=now_iso(),
        log=_shown(run_dir / "train.log"),
    )


def _shown(path: Path) -> str:
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if relative.startswith("..") else relative


def run_cell(
    cell: Cell,
    run_dir: str | Path,
    *,
    command: Sequence[str] = DEFAULT_TRAIN_COMMAND,
    timeout: float | None = None,
    resolve: Callable[[str], str] | None = None,
    env: Mapping[str, str] | None = None,
    stop: threading.Event | None = None,
    poll_s: float = 0.2,
) -> RunResult | None:
    """Train one cell in its own process and return its result.

    Args:
        cell: The cell to run.
        run_dir: Its directory: recipe.yml, train.log, output/, prepared/.
        command: Train command template (`{config}`, `{launcher}`, `{python}`).
        timeout: Seconds before the cell is killed and recorded as timeout.
        resolve: Maps `packbench://` URIs to local paths (default: the assets).
        env: Environment of the training process (default: `child_env()`).
        stop: When set, the training process is killed and None is returned.
        poll_s: How often to check the process, the timeout and `stop`.

    Returns:
        The result (ok, failed or timeout), or None when stopped.
    """
    run_dir = Path(run_dir).absolute()
    run_dir.mkdir(parents=True, exist_ok=True)
    log_path = run_dir / "train.log"
    recipe_path = run_dir / "recipe.yml"
    runner: dict[str, Any] = {"started_at": now_iso(), "timeout_s": timeout}
    try:
        if resolve is None:
            from axolotl_packing_bench.bench.recipe import default_resolver

            resolve = default_resolver()
        text = render_recipe(cell, recipe_path=recipe_path, run_dir=run_dir, resolve=resolve)
    except Exception as error:  # noqa: BLE001 - an asset that cannot be built fails this cell only
        atomic_write_text(log_path, f"packbench: cannot prepare the recipe: {error!r}\n")
        return _result(cell, run_dir, "failed", one_sentence(f"cannot prepare the recipe: {error}"), {}, runner)
    atomic_write_text(recipe_path, text)
    output_dir = run_dir / "output"
    with contextlib.suppress(FileNotFoundError):
        (output_dir / METRICS_FILE).unlink()  # never read a previous attempt's metrics

    argv = train_command(command, recipe_path, cell.launcher)
    runner["command"] = shlex.join(argv)
    started = time.monotonic()
    marker = run_dir / ".running"
    with open(log_path, "w", encoding="utf-8") as log:
        log.write(f"$ {shlex.join(argv)}\n")
        log.flush()
        try:
            process = subprocess.Popen(  # noqa: S603 - the user's own train command
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dict(env) if env is not None else child_env(),
                start_new_session=True,  # its own process group: we kill launchers and workers together
            )
        except OSError as error:
            return _result(cell, run_dir, "failed", one_sentence(f"cannot start {argv[0]}: {error.strerror}"), {}, runner)
        atomic_write_text(marker, f"{os.getpid()} {process.pid}\n")
        timed_out = stopped = False
        try:
            while True:
                try:
                    process.wait(timeout=poll_s)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if stop is not None and stop.is_set():
                    stopped = True
                    _kill_group(process, grace=2.0)
                    break
                if timeout is not None and time.monotonic() - started > timeout:
                    timed_out = True
                    _kill_group(process)
                    break
        finally:
            if process.poll() is None:  # an exception in this thread: leave no orphan
                _kill_group(process, grace=1.0)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)  # stragglers a launcher left behind
            with contextlib.suppress(FileNotFoundError):
                marker.unlink()
    wall = time.monotonic() - started
    runner.update(wall_s=round(wall, 2), exit_code=process.returncode, finished_at=now_iso())
    if stopped:
        return None

    metrics = _read_metrics(output_dir)
    tail = read_tail(log_path)
    if timed_out:
        last = last_error_line(tail)
        reason = f"timed out after {_duration(timeout or wall)}" + (f"; last log line: {last}" if last else "")
        return _result(cell, run_dir, "timeout", one_sentence(reason), metrics or {}, runner)
    if process.returncode != 0:
        error = (metrics or {}).get("error") or last_error_line(tail) or "no output"
        reason = f"training exited with status {process.returncode}: {error}"
        return _result(cell, run_dir, "failed", one_sentence(reason), metrics or {}, runner)
    if metrics is None:
        metrics = metrics_from_log(tail)
    if metrics.get("status") == "failed":
        reason = metrics.get("error") or "the plugin recorded a failed run"
        return _result(cell, run_dir, "failed", one_sentence(str(reason)), metrics, runner)
    return _result(cell, run_dir, "ok", None, metrics, runner)


# ---------------------------------------------------------------- 3. record


def render_to(results_path: str | Path, leaderboard_path: str | Path) -> str:
    """Re-render the leaderboard file from the results file; returns the text."""
    text = render_leaderboard(read_results(results_path), source=Path(results_path).name)
    atomic_write_text(leaderboard_path, text)
    return text


def record_result(result: RunResult, results_path: str | Path, leaderboard_path: str | Path | None) -> None:
    """Append `result` to the results and re-render the leaderboard."""
    append_result(results_path, result)
    if leaderboard_path is not None:
        render_to(results_path, leaderboard_path)


# ---------------------------------------------------------------- driver


@dataclass
class Progress:
    """Progress lines on stderr: done/total, the cell, elapsed time and ETA."""

    total: int
    jobs: int = 1
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    done: int = 0
    started: float = field(default_factory=time.monotonic)
    durations: list[float] = field(default_factory=list)

    def line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def _counter(self) -> str:
        width = len(str(self.total))
        return f"[{self.done:>{width}}/{self.total}]"

    def start(self, plan: CellPlan) -> None:
        self.line(f"{self._counter()} start   {plan.cell.cell_id}")

    def still_running(self, plan: CellPlan, seconds: float) -> None:
        self.line(f"{self._counter()} running {plan.cell.cell_id} ({_duration(seconds)}, elapsed {_duration(time.monotonic() - self.started)})")

    def finish(self, plan: CellPlan, result: RunResult, seconds: float) -> None:
        self.done += 1
        self.durations.append(seconds)
        elapsed = time.monotonic() - self.started
        remaining = self.total - self.done
        eta = sum(self.durations) / len(self.durations) * remaining / max(1, self.jobs)
        status = result.status if result.ok else f"{result.status.upper()}"
        text = f"{self._counter()} {status:<7} {plan.cell.cell_id} in {_duration(seconds)} · elapsed {_duration(elapsed)}"
        text += f" · ETA {_duration(eta)}" if remaining else ""
        if not result.ok and result.reason:
            text += f"\n        reason: {result.reason}\n        log: {result.log}"
        self.line(text)


@dataclass(frozen=True)
class RunSummary:
    """What a `run_matrix` call did."""

    results: tuple[RunResult, ...]
    skipped: int
    interrupted: bool
    not_run: int

    @property
    def all_ok(self) -> bool:
        return not self.interrupted and self.not_run == 0 and all(result.ok for result in self.results)


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event, on_signal: Callable[[int], None] | None = None) -> Iterator[list[int]]:
    """While inside, SIGINT/SIGTERM only set `stop` (no exception mid-write).

    Yields a list that receives the signal numbers caught. Outside the main
    thread, signals are left alone.
    """
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return

    def handler(signum: int, frame: Any) -> None:
        caught.append(signum)
        stop.set()
        if on_signal is not None:
            on_signal(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield caught
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def matrix_lock(runs_dir: str | Path, matrix: str) -> Iterator[bool]:
    """A non-blocking lock on `runs/<matrix>/.lock`; yields False when another run holds it."""
    path = Path(runs_dir) / matrix / ".lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _train_and_follow_up(
    plan: CellPlan, after_training: Callable[[CellPlan, RunResult], RunResult] | None, **run_options: Any
) -> RunResult | None:
    result = run_cell(plan.cell, plan.run_dir, **run_options)
    if result is None or after_training is None:
        return result
    return after_training(plan, result)


def run_matrix(
    plans: Sequence[CellPlan],
    *,
    results_path: str | Path,
    leaderboard_path: str | Path | None,
    jobs: int = 1,
    command: Sequence[str] = DEFAULT_TRAIN_COMMAND,
    timeout: float | None = None,
    resolve: Callable[[str], str] | None = None,
    env: Mapping[str, str] | None = None,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    heartbeat_s: float = 60.0,
    after_training: Callable[[CellPlan, RunResult], RunResult] | None = None,
) -> RunSummary:
    """Run the planned cells, `jobs` at a time, recording each result as it ends.

    Args:
        plans: From `plan_cells`; skipped plans are not run.
        results_path: The results JSONL to append to.
        leaderboard_path: The markdown to re-render after each cell (None: don't).
        jobs: Cells run at once.
        command: Train command template.
        timeout: Per-cell timeout overriding each cell's own.
        resolve: URI resolver passed to `run_cell`.
        env: Training environment (default `child_env(jobs)`).
        stop: Set it (e.g. from a signal handler) to stop: running cells are
            killed and not recorded, pending ones never start.
        progress: Where progress goes (default: stderr).
        heartbeat_s: How often to say which cells are still running.
        after_training: Called in the cell's thread on each finished result
            (evaluation, probes); returns the result to record.
    """
    stop = stop or threading.Event()
    to_run = deque(plan for plan in plans if not plan.skip)
    progress = progress or Progress(total=len(to_run), jobs=jobs)
    environment = dict(env) if env is not None else child_env(jobs)
    if resolve is None and to_run:
        from axolotl_packing_bench.bench.recipe import default_resolver

        resolve = default_resolver()
    finished: list[RunResult] = []
    running: dict[Future, tuple[CellPlan, float]] = {}
    last_beat = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="packbench-cell") as pool:
        while to_run or running:
            while to_run and len(running) < jobs and not stop.is_set():
                plan = to_run.popleft()
                progress.start(plan)
                future = pool.submit(
                    _train_and_follow_up,
                    plan,
                    after_training,
                    command=command,
                    timeout=timeout if timeout is not None else plan.cell.timeout,
                    resolve=resolve,
                    env=environment,
                    stop=stop,
                )
                running[future] = (plan, time.monotonic())
            if not running:
                break
            done, _ = wait(running, timeout=0.25, return_when=FIRST_COMPLETED)
            for future in done:
                plan, began = running.pop(future)
                try:
                    result = future.result()
                except Exception as error:  # noqa: BLE001 - a bug in one cell must not stop the others
                    result = RunResult(
                        run_id=uuid.uuid4().hex,
                        cell_id=plan.cell.cell_id,
                        matrix=plan.cell.matrix,
                        status="failed",
                        reason=one_sentence(f"packbench could not run the cell: {error!r}"),
                        axes=dict(plan.cell.axes),
                        labels=dict(plan.cell.labels),
                        recorded_at=now_iso(),
                    )
                if result is None:  # stopped by the user: record nothing
                    continue
                record_result(result, results_path, leaderboard_path)
                finished.append(result)
                progress.finish(plan, result, time.monotonic() - began)
            if running and time.monotonic() - last_beat >= heartbeat_s:
                last_beat = time.monotonic()
                for plan, began in running.values():
                    progress.still_running(plan, time.monotonic() - began)
    return RunSummary(
        results=tuple(finished),
        skipped=sum(plan.skip for plan in plans),
        interrupted=stop.is_set(),
        not_run=sum(not plan.skip for plan in plans) - len(finished),
    )
