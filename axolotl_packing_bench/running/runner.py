"""Run matrix cells with `axolotl train`, one process per cell, and record results.

The pieces every backend (`running.backends.local`, `.ray_backend`,
`.slurm`) shares, driven by one loop (`running.driver`):

1. `plan_cells`: which (cell, repeat) pairs to run and which are already done
   (their latest result in `results.jsonl` is ok), in run order: the cells of
   one table (model x dataset) interleaved, repeat after repeat. Pure.
2. `prepare_cell` renders the cell's recipe (URIs resolved) into
   `runs/<matrix>/<cell_id>/recipe.yml`; `cell_result` reads what the
   training left (metrics file, log) into a `RunResult`. `run_cell` does both
   around a fresh `axolotl train` process under a guard (`procguard`: it dies
   with the runner), enforcing the timeout. Never raises for a failed cell: a
   crash is a result.
3. Recording is `report.publish.record_result`: the result appended and the
   leaderboard re-rendered, both or neither.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from axolotl_packing_bench.compat.axolotl_api import train_command as axolotl_train_command
from axolotl_packing_bench.core.environment import collect_hardware, collect_versions
from axolotl_packing_bench.core.fileio import atomic_write_text, read_tail, try_lock
from axolotl_packing_bench.core.procguard import guard_argv
from axolotl_packing_bench.core.quiet import PYTREE_PYTHONWARNINGS
from axolotl_packing_bench.core.text import one_sentence, shown_path
from axolotl_packing_bench.matrix.recipe import RECIPE_FILE, cell_run_dir, metrics_file_name, render_recipe
from axolotl_packing_bench.matrix.spec import Cell, launcher_args
from axolotl_packing_bench.results.store import RunResult, done_repeats, now_iso
from axolotl_packing_bench.running.trainlog import last_error_line, metrics_from_log

DEFAULT_TRAIN_COMMAND = tuple(axolotl_train_command("{python}", "{config}", "{launcher}"))
"""`axolotl train <recipe> --launcher <launcher>`, through the interpreter running packbench."""

KILL_GRACE_S = 10.0

RUNNING_MARKER = ".running"
"""In a cell's run directory while it trains: the runner's and the training process's pids."""


def train_command(
    template: Sequence[str], config: str | Path, launcher: str = "python", processes: int = 1
) -> list[str]:
    """The argv of one training run: `{config}`, `{launcher}`, `{python}`, `{processes}` filled in.

    A template of Axolotl's CLI (one with `{launcher}`) gets the launcher's arguments for several
    processes after `--` (`matrix.spec.launcher_args`); any other template places `{processes}` itself.
    """
    values = {"config": str(config), "launcher": launcher, "python": sys.executable, "processes": str(processes)}
    argv = [part.format(**values) for part in template]
    extra = launcher_args(launcher, processes)
    if extra and any("{launcher}" in part for part in template):
        argv += ["--", *extra]
    return argv


def launch_env(env: Mapping[str, str], processes: int) -> dict[str, str]:
    """`env` for a cell of `processes` ranks (a copy; unchanged for one).

    For several: the interpreter's own bin directory first on PATH, where Axolotl's CLI finds the
    `torchrun` / `accelerate` of this environment, and the cell's CPU threads (`OMP_NUM_THREADS`, else
    every core) shared out between its ranks.
    """
    env = dict(env)
    if processes > 1:
        bin_dir = str(Path(sys.executable).parent)
        path = env.get("PATH", "")
        if path.split(os.pathsep)[0] != bin_dir:
            env["PATH"] = os.pathsep.join(filter(None, (bin_dir, path)))
        env["OMP_NUM_THREADS"] = str(max(1, threads_per_cell(1, env) // processes))
    return env


def parse_train_command(text: str) -> tuple[str, ...]:
    """A shell-like command template, e.g. `accelerate launch -m axolotl.cli.train {config}`."""
    parts = tuple(shlex.split(text))
    if not parts or not any("{config}" in part for part in parts):
        raise ValueError("the train command must contain {config}")
    return parts


def threads_per_cell(jobs: int, environ: Mapping[str, str] | None = None) -> int:
    """CPU threads each of `jobs` parallel cells gets.

    OMP_NUM_THREADS when the caller set it, else the cores shared out.
    """
    explicit = (os.environ if environ is None else environ).get("OMP_NUM_THREADS", "").strip()
    if explicit.isdigit() and int(explicit) > 0:
        return int(explicit)
    return max(1, (os.cpu_count() or 1) // max(1, jobs))


def child_env(jobs: int = 1, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a training process.

    Offline by default (`HF_HUB_OFFLINE=1`, no W&B, no telemetry) unless the
    caller's environment says otherwise, unbuffered output for the log, torch's
    harmless pytree deprecation ignored, and the CPU threads shared out
    between parallel cells.
    """
    env = dict(os.environ if base is None else base)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("WANDB_MODE", "disabled")
    env.setdefault("AXOLOTL_DO_NOT_TRACK", "1")
    env["PYTHONUNBUFFERED"] = "1"
    known = env.get("PYTHONWARNINGS", "")
    if PYTREE_PYTHONWARNINGS not in known:  # a fresh interpreter's share of `core.quiet`
        env["PYTHONWARNINGS"] = ",".join(filter(None, (known, PYTREE_PYTHONWARNINGS)))
    if jobs > 1:
        env.setdefault("OMP_NUM_THREADS", str(threads_per_cell(jobs)))
    return env


# ---------------------------------------------------------------- 1. plan


@dataclass(frozen=True)
class CellPlan:
    """A cell (one repeat of it), where it runs, and whether it runs or is skipped as done."""

    cell: Cell
    run_dir: Path
    skip: bool = False
    repeat: int = 0

    @property
    def label(self) -> str:
        """The cell id, with the repeat when there is more than the first."""
        return self.cell.cell_id + (f" (repeat {self.repeat + 1})" if self.repeat else "")


def repeat_run_dir(runs_dir: str | Path, cell: Cell, repeat: int) -> Path:
    """`runs/<matrix>/<cell_id>` for the first repeat, `.../<cell_id>.repeat<N>` for the others (same prepared data)."""
    base = cell_run_dir(runs_dir, cell)
    return base if repeat == 0 else base.with_name(f"{base.name}.repeat{repeat}")


def table_key(cell: Cell) -> tuple[str, str]:
    """The leaderboard table a cell belongs to: (model, dataset)."""
    return (str(cell.axes.get("model", "")), str(cell.axes.get("dataset", "")))


def plan_cells(
    cells: Sequence[Cell],
    results: Sequence[RunResult],
    *,
    runs_dir: str | Path,
    fresh: bool = False,
    repeats: int = 1,
) -> list[CellPlan]:
    """Plan `repeats` runs of every cell; repeats whose latest result is ok are skipped unless `fresh`.

    Order: table by table (model x dataset, first appearance); inside a table,
    every cell once (padding, random, greedy, ...), then every cell again for
    the next repeat, so that drifts of the machine hit every strategy alike.
    """
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    done: dict[tuple[str, str], set[int]] = {}
    if not fresh:
        for matrix in {cell.matrix for cell in cells}:
            for cell_id, indices in done_repeats(results, matrix).items():
                done[(matrix, cell_id)] = indices
    tables: dict[tuple[str, str], list[Cell]] = {}
    for cell in cells:
        tables.setdefault(table_key(cell), []).append(cell)
    return [
        CellPlan(
            cell,
            repeat_run_dir(runs_dir, cell, repeat).absolute(),
            skip=repeat in done.get((cell.matrix, cell.cell_id), set()),
            repeat=repeat,
        )
        for table in tables.values()
        for repeat in range(repeats)
        for cell in table
    ]


# ---------------------------------------------------------------- 2. run one cell


@dataclass(frozen=True)
class PreparedCell:
    """A cell whose recipe is written: where its log, output and metrics go."""

    plan: CellPlan
    recipe_path: Path
    log_path: Path
    output_dir: Path
    metrics_path: Path


def prepare_cell(plan: CellPlan, resolve: Callable[[str], str] | None = None) -> PreparedCell | RunResult:
    """Write the cell's recipe (and clear a previous attempt's metrics); a failed result if it cannot be."""
    run_dir = plan.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    log_path = run_dir / "train.log"
    recipe_path = run_dir / RECIPE_FILE
    try:
        if resolve is None:
            from axolotl_packing_bench.matrix.recipe import default_resolver

            resolve = default_resolver()
        text = render_recipe(plan.cell, recipe_path=recipe_path, run_dir=run_dir, resolve=resolve)
        import yaml

        recipe = yaml.safe_load(text) or {}
        metrics_name = metrics_file_name(recipe if isinstance(recipe, Mapping) else {})
    except Exception as error:  # noqa: BLE001 - an asset that cannot be built fails this cell only
        atomic_write_text(log_path, f"packbench: cannot prepare the recipe: {error!r}\n")
        return cell_failure(plan, one_sentence(f"cannot prepare the recipe: {error}"), runner={"started_at": now_iso()})
    atomic_write_text(recipe_path, text)
    output_dir = Path(str(recipe.get("output_dir") or run_dir / "output"))
    metrics_path = output_dir / metrics_name
    with contextlib.suppress(FileNotFoundError):
        metrics_path.unlink()  # never read a previous attempt's metrics
    return PreparedCell(plan, recipe_path, log_path, output_dir, metrics_path)


def _read_metrics(path: Path) -> dict[str, Any] | None:
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


def _with_environment(metrics: Mapping[str, Any], runner: Mapping[str, Any]) -> dict[str, Any]:
    metrics = dict(metrics)
    if not metrics.get("versions"):
        metrics["versions"] = collect_versions()
    if not metrics.get("hardware"):
        metrics["hardware"] = collect_hardware()
    metrics["runner"] = dict(runner)
    return metrics


def cell_failure(
    plan: CellPlan,
    reason: str,
    *,
    status: str = "failed",
    metrics: Mapping[str, Any] | None = None,
    runner: Mapping[str, Any] | None = None,
) -> RunResult:
    """A failed (or timed-out) result of a planned cell, with the environment filled in."""
    metrics = _with_environment(metrics or {}, runner or {})
    return RunResult.failed(
        plan.cell,
        reason,
        status=status,
        metrics=metrics,
        log=shown_path(plan.run_dir / "train.log"),
        run_id=str(metrics.get("run_id") or "") or None,
        repeat=plan.repeat,
    )


def cell_result(
    prepared: PreparedCell, *, exit_code: int | None, timed_out: bool, runner: Mapping[str, Any]
) -> RunResult:
    """What a finished training left (metrics file, else the log) as a result; `runner` goes in metrics.runner."""
    plan = prepared.plan
    metrics = _read_metrics(prepared.metrics_path)
    tail = read_tail(prepared.log_path)
    runtime = ((metrics or {}).get("training") or {}).get("runtime_s")
    if isinstance(runtime, (int, float)) and isinstance(runner.get("wall_s"), (int, float)):
        runner = {**runner, "overhead_s": round(runner["wall_s"] - runtime, 2)}  # start-up, imports, loading, saving
    if timed_out:
        last = last_error_line(tail)
        reason = f"timed out after {_duration(runner.get('timeout_s') or runner.get('wall_s') or 0)}" + (
            f"; last log line: {last}" if last else ""
        )
        return cell_failure(plan, one_sentence(reason), status="timeout", metrics=metrics, runner=runner)
    if exit_code != 0:
        error = (metrics or {}).get("error") or last_error_line(tail) or "no output"
        if exit_code is not None and exit_code < 0:
            name = signal.Signals(-exit_code).name if -exit_code in signal.valid_signals() else str(-exit_code)
            reason = f"training was killed by {name}: {error}"
        else:
            reason = f"training exited with status {exit_code}: {error}"
        return cell_failure(plan, one_sentence(reason), metrics=metrics, runner=runner)
    if metrics is None:
        metrics = metrics_from_log(tail)
    ran = metrics.get("processes")
    if isinstance(ran, int) and not isinstance(ran, bool) and ran != plan.cell.num_processes:
        reason = (
            f"num_processes asked for {plan.cell.num_processes} training processes and training ran on {ran}; "
            f"with launcher {plan.cell.launcher} check how it starts them (torchrun starts them on any machine, "
            "accelerate as its own config says)"
        )
        return cell_failure(plan, one_sentence(reason), metrics=metrics, runner=runner)
    if metrics.get("status") == "failed":
        reason = metrics.get("error") or "the plugin recorded a failed run"
        return cell_failure(plan, one_sentence(str(reason)), metrics=metrics, runner=runner)
    metrics = _with_environment(metrics, runner)
    return RunResult(
        run_id=str(metrics.get("run_id") or "") or uuid.uuid4().hex,
        cell_id=plan.cell.cell_id,
        matrix=plan.cell.matrix,
        status="ok",
        reason=None,
        axes=dict(plan.cell.axes),
        labels=dict(plan.cell.labels),
        metrics=metrics,
        recorded_at=now_iso(),
        log=shown_path(prepared.log_path),
        repeat=plan.repeat,
    )


class CellProcess:
    """A cell's training process, the leader of its own process group (killed as a group)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.exit_code: int | None = None
        self.cpu_s: float | None = None

    def poll(self) -> int | None:
        raise NotImplementedError

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)


class IsolatedProcess(CellProcess):
    """`argv` in a fresh interpreter, under the guard, output appended to `log_path`."""

    def __init__(self, argv: Sequence[str], *, log_path: Path, env: Mapping[str, str]) -> None:
        with open(log_path, "a", encoding="utf-8") as log:
            self.popen = subprocess.Popen(  # noqa: S603 - the user's own train command
                guard_argv(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dict(env),
                start_new_session=True,  # its own process group: launchers and workers die together
            )
        super().__init__(self.popen.pid)

    def poll(self) -> int | None:
        if self.exit_code is None:
            try:
                pid, status, usage = os.wait4(self.pid, os.WNOHANG)
            except ChildProcessError:
                self.exit_code = self.popen.poll() if self.popen.poll() is not None else -signal.SIGKILL
                return self.exit_code
            if pid:
                self.exit_code = os.waitstatus_to_exitcode(status)
                self.popen.returncode = self.exit_code
                self.cpu_s = round(usage.ru_utime + usage.ru_stime, 2)
        return self.exit_code


def stop_process(process: CellProcess, grace: float = KILL_GRACE_S, poll_s: float = 0.1) -> None:
    """SIGTERM the process group, SIGKILL it after `grace` seconds; reap the leader."""
    process.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(poll_s)
    process.signal_group(signal.SIGKILL)  # also stragglers a launcher left behind
    deadline = time.monotonic() + 10
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(poll_s)


@dataclass
class CellRun:
    """One cell's training process from start to result: the one lifecycle every backend runs.

    `start` writes the `.running` marker (runner and child pid, read by the
    orphan check); `check` polls the process and enforces the timeout
    (SIGTERM to its group, SIGKILL `KILL_GRACE_S` later) without blocking;
    `finish` kills what the cell left behind, removes the marker and reads
    the result; `stop` ends it early (an interrupted run records nothing).
    """

    prepared: PreparedCell
    process: CellProcess
    runner: dict[str, Any]
    timeout: float | None = None
    started: float = field(default_factory=time.monotonic)
    timed_out: bool = False
    kill_at: float | None = None

    @classmethod
    def start(
        cls,
        prepared: PreparedCell,
        process: CellProcess,
        runner: dict[str, Any],
        *,
        timeout: float | None,
        started: float | None = None,
    ) -> CellRun:
        atomic_write_text(prepared.plan.run_dir / RUNNING_MARKER, f"{os.getpid()} {process.pid}\n")
        return cls(prepared, process, runner, timeout, started if started is not None else time.monotonic())

    @property
    def wall_s(self) -> float:
        return time.monotonic() - self.started

    def check(self) -> int | None:
        """The exit code once the process ended, else None (sending the timeout's signals when due)."""
        code = self.process.poll()
        if code is not None:
            return code
        now = time.monotonic()
        if self.timeout is not None and not self.timed_out and now - self.started > self.timeout:
            self.timed_out = True
            self.kill_at = now + KILL_GRACE_S
            self.process.signal_group(signal.SIGTERM)
        elif self.kill_at is not None and now > self.kill_at:
            self.process.signal_group(signal.SIGKILL)
        return None

    def _clean_up(self) -> None:
        self.process.signal_group(signal.SIGKILL)  # stragglers a launcher left behind
        with contextlib.suppress(FileNotFoundError):
            (self.prepared.plan.run_dir / RUNNING_MARKER).unlink()

    def finish(self, code: int | None, **runner: Any) -> RunResult:
        """The result of the ended process; `runner` adds to what `metrics.runner` records."""
        self._clean_up()
        self.runner.update(
            wall_s=round(self.wall_s, 2), exit_code=code, cpu_s=self.process.cpu_s, finished_at=now_iso(), **runner
        )
        return cell_result(self.prepared, exit_code=code, timed_out=self.timed_out, runner=self.runner)

    def stop(self, grace: float = 2.0) -> None:
        """End the process now (SIGTERM, SIGKILL after `grace`), leaving no marker and no straggler."""
        stop_process(self.process, grace=grace)
        self._clean_up()


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
    repeat: int = 0,
) -> RunResult | None:
    """Train one cell in a fresh process (blocking) and return its result.

    Used where one process trains one cell (a Ray or Slurm task); the local
    backend runs the same steps without blocking.

    Args:
        cell: The cell to run.
        run_dir: Its directory: recipe.yml, train.log, output/, prepared/.
        command: Train command template (`{config}`, `{launcher}`, `{python}`, `{processes}`).
        timeout: Seconds before the cell is killed and recorded as timeout.
        resolve: Maps `packbench://` URIs to local paths (default: the assets).
        env: Environment of the training process (default: `child_env()`).
        stop: When set, the training process is killed and None is returned.
        poll_s: How often to check the process, the timeout and `stop`.
        repeat: Which repeat of the cell this is.

    Returns:
        The result (ok, failed or timeout), or None when stopped.
    """
    plan = CellPlan(cell, Path(run_dir).absolute(), repeat=repeat)
    prepared = prepare_cell(plan, resolve)
    if isinstance(prepared, RunResult):
        return prepared
    argv = train_command(command, prepared.recipe_path, cell.launcher, cell.num_processes)
    runner: dict[str, Any] = {
        "started_at": now_iso(),
        "timeout_s": timeout,
        "command": shlex.join(argv),
        "worker": "isolated",
        "num_processes": cell.num_processes,
    }
    atomic_write_text(prepared.log_path, f"$ {shlex.join(argv)}\n")
    started = time.monotonic()
    process = IsolatedProcess(
        argv, log_path=prepared.log_path, env=launch_env(env if env is not None else child_env(), cell.num_processes)
    )
    run = CellRun.start(prepared, process, runner, timeout=timeout, started=started)
    try:
        while (code := run.check()) is None:
            time.sleep(poll_s)
            if stop is not None and stop.is_set():
                run.stop(grace=2.0)
                return None
    except BaseException:  # an exception in this thread: leave no orphan
        run.stop(grace=1.0)
        raise
    return run.finish(code)


# ---------------------------------------------------------------- 3. record


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
        self.line(f"{self._counter()} start   {plan.label}")

    def still_running(self, plan: CellPlan, seconds: float) -> None:
        self.line(
            f"{self._counter()} running {plan.label} "
            f"({_duration(seconds)}, elapsed {_duration(time.monotonic() - self.started)})"
        )

    def finish(self, plan: CellPlan, result: RunResult, seconds: float) -> None:
        self.done += 1
        self.durations.append(seconds)
        elapsed = time.monotonic() - self.started
        remaining = self.total - self.done
        eta = sum(self.durations) / len(self.durations) * remaining / max(1, self.jobs)
        status = result.status if result.ok else f"{result.status.upper()}"
        text = f"{self._counter()} {status:<7} {plan.label} in {_duration(seconds)} · elapsed {_duration(elapsed)}"
        text += f" · ETA {_duration(eta)}" if remaining else ""
        if not result.ok and result.reason:
            text += f"\n        reason: {result.reason}\n        log: {result.log}"
        elif result.ok and result.metric("runner", "load", "loaded") is True:
            others = result.metric("runner", "load", "others_cores")
            used = f" (other programs used {others:g} cores)" if isinstance(others, (int, float)) else ""
            text += f"\n        ⚠ measured on a loaded machine{used}: its times are not comparable; rerun it when idle"
        self.line(text)


@dataclass(frozen=True)
class RunSummary:
    """What one run of the driver loop did."""

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
    fd = try_lock(Path(runs_dir) / matrix / ".lock")
    try:
        yield fd is not None
    finally:
        if fd is not None:
            os.close(fd)


def results_lock_path(results_path: str | Path) -> Path:
    """`.<name>.run.lock` beside the results file it names (through symlinks: one file, one lock)."""
    target = Path(os.path.realpath(results_path))
    return target.with_name(f".{target.name}.run.lock")


@contextlib.contextmanager
def results_lock(results_path: str | Path) -> Iterator[str | None]:
    """Hold the results file's run lock for a whole `packbench run`: two runs never train into one results file.

    Yields None when this run holds it, else what the holder wrote (its pid),
    so a second run is refused before it plans, however its matrix or runs
    dir differ from the first one's.
    """
    path = results_lock_path(results_path)
    fd = try_lock(path)
    if fd is None:
        try:
            holder = path.read_text().strip() or "unknown"
        except OSError:
            holder = "unknown"
        yield holder
        return
    try:
        with contextlib.suppress(OSError):  # the pid only informs a second run; a full disk must not stop this one here
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield None
    finally:
        os.close(fd)


OWNER_FILE = ".results-owner"
"""In each run dir: the resolved path of the results file whose runs it holds."""


def run_dir_owner(run_dir: Path) -> str | None:
    """The results file a run dir belongs to, or None when it records none (new, or made by an older packbench)."""
    try:
        return (run_dir / OWNER_FILE).read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def claim_run_dirs(plans: Sequence[CellPlan], results_path: str | Path) -> list[tuple[Path, str]]:
    """Record `results_path` as the owner of the run dirs about to be used, unless one belongs to another results file.

    Returns:
        (run dir, its owner) of each run dir another results file owns; when
        there is any, nothing is claimed (the caller refuses the run).
    """
    owner = os.path.realpath(results_path)
    dirs = [plan.run_dir for plan in plans if not plan.skip]
    taken = [(run_dir, other) for run_dir in dirs if (other := run_dir_owner(run_dir)) not in (None, owner)]
    if not taken:
        for run_dir in dirs:
            if run_dir_owner(run_dir) is None:
                atomic_write_text(run_dir / OWNER_FILE, owner + "\n")
    return taken
