"""Warm cell workers: import Axolotl once, fork one fresh child per cell.

Starting `axolotl train` costs seconds of imports (torch, transformers,
datasets, Axolotl) per cell. The warm worker is one process that imports
them once, initialises no CUDA, and then forks a child per cell::

    packbench run ──pipe──► warm worker (imports done; PDEATHSIG=SIGUSR2)
                                 ├─► cell child (own session, PDEATHSIG=SIGKILL) ─► Axolotl's train CLI
                                 └─► cell child ...

A cell is still one process: a crash, hang or kill costs only its cell, and
the runner kills it by process group as before. Each child starts from a
clean slate: its own session, stdout/stderr on the cell's `train.log`,
stdin from /dev/null, the cell's cwd, environment, `sys.argv`, torch thread
count and fresh random seeds, default signal handlers, and an empty Axolotl
`PluginManager`. The child runs `axolotl train <recipe> --launcher python`
through Axolotl's own click entry point, in process (what that command runs
after its imports), then atexit handlers (the plugin's metrics) and exits.

Limits: variables read at import time (HF_HUB_OFFLINE, OMP_NUM_THREADS)
come from the environment the worker started with (the runner's cell
environment); a cell needing other ones, another launcher, or a custom
train command runs in a fresh interpreter instead (`--isolated-process`).

Protocol (JSON lines): the runner writes `{"id", "entry", "config", "argv",
"log", "cwd", "env", "threads"}` to the worker's stdin; the worker answers
`{"ready": ...}` once, then `{"id", "pid"}` per fork and `{"id", "exit",
"cpu_s"}` when a child ends (exit < 0: killed by that signal). EOF on stdin
ends the worker and its children.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import json
import os
import random
import select
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from axolotl_packing_bench.compat.axolotl_api import TRAIN_MODULES, reset_plugin_manager
from axolotl_packing_bench.core.procguard import GUARD_SIGNAL, die_with_parent

AXOLOTL_ENTRY = "axolotl_packing_bench.running.warm:axolotl_train"
AXOLOTL_PRELOAD = (
    "torch",
    "transformers",
    "datasets",
    "accelerate",
    "peft",
    *TRAIN_MODULES,
    "transformers.hf_argparser",
    "transformers.models.llama.modeling_llama",
    "sklearn.feature_extraction.text",
    "sklearn.cluster",
    "axolotl_packing_bench.plugin",
    "axolotl_packing_bench.plugin.hooks",
    "axolotl_packing_bench.plugin.callbacks",
    "axolotl_packing_bench.plugin.collator",
    "axolotl_packing_bench.plugin.datasets",
    "axolotl_packing_bench.plugin.grouping",
    "axolotl_packing_bench.plugin.relatedness",
    "axolotl_packing_bench.running.warm:warm_packing_kernels",
)
"""What `axolotl train` imports before it trains (read from a child's new `sys.modules`), and the
packing kernels loaded; `module:function` entries are called. One missing in this version is skipped."""


def warm_packing_kernels() -> None:
    """Run every registered packing strategy once on a few rows, so children inherit the loaded numba code."""
    from axolotl_packing_bench.packing import STRATEGIES, pack

    for strategy in STRATEGIES:
        try:
            pack([3, 2, 2, 1], 4, strategy=strategy)
        except Exception:  # noqa: BLE001, S112 - a strategy needing more options warms up in the child instead
            continue


def axolotl_train(config: str) -> int:
    """`axolotl train CONFIG --launcher python`, through Axolotl's own click CLI, in this process."""
    from axolotl_packing_bench.compat.axolotl_api import run_train_cli

    try:
        run_train_cli(config)
    except SystemExit as done:
        return _exit_code(done.code)
    return 0


def _exit_code(code: Any) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def resolve_entry(spec: str) -> Any:
    """`module:function` -> the function (ValueError naming the spec when it is not one)."""
    module, _, name = spec.partition(":")
    if not module or not name:
        raise ValueError(f"train entry {spec!r} is not of the form module:function")
    return getattr(importlib.import_module(module), name)


# ---------------------------------------------------------------- the worker process


def _reset_global_state(request: Mapping[str, Any]) -> None:
    """What a fresh interpreter would have: cwd, environment, argv, seeds, threads, handlers, plugins."""
    for sig in (signal.SIGTERM, signal.SIGHUP, GUARD_SIGNAL, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = list(request["argv"])
    random.seed()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.seed()
        if request.get("threads"):
            torch.set_num_threads(int(request["threads"]))
    reset_plugin_manager()  # plugins register globally; each cell registers its own


def _child(request: Mapping[str, Any], worker: int, channels: Sequence[int]) -> None:
    """Body of a forked cell child; never returns."""
    code = 1
    try:
        os.setsid()  # its own process group: the runner kills the cell and whatever it starts together
        die_with_parent(worker)
        log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)  # replaces the request pipe
        os.dup2(log, 1)
        os.dup2(log, 2)
        for fd in {log, null, *channels} - {0, 1, 2}:
            os.close(fd)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(AttributeError, ValueError):
                stream.reconfigure(line_buffering=True, write_through=True)
        _reset_global_state(request)
        code = _exit_code(resolve_entry(request["entry"])(request["config"]))
    except SystemExit as done:
        code = _exit_code(done.code)
    except BaseException:  # noqa: BLE001 - the log shows it, the exit status says it
        traceback.print_exc()
        code = 1
    try:
        atexit._run_exitfuncs()  # the plugin writes unfinished metrics from atexit
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _preload(modules: Sequence[str]) -> dict[str, str]:
    skipped = {}
    for name in modules:
        try:
            if ":" in name:
                resolve_entry(name)()
            else:
                importlib.import_module(name)
        except Exception as error:  # noqa: BLE001 - an optional module of another Axolotl version
            skipped[name] = f"{type(error).__name__}: {error}"
    return skipped


def serve(parent: int, preload: Sequence[str]) -> int:
    """The worker's main loop (see the module docstring)."""
    reply_fd = os.dup(1)
    os.dup2(2, 1)  # stray prints from imports go to the worker's log, not the protocol pipe
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the runner's to handle
    children: dict[int, str] = {}

    def kill_children(*_: Any) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)

    def on_parent_death(*_: Any) -> None:
        kill_children()
        os._exit(1)

    signal.signal(GUARD_SIGNAL, on_parent_death)
    signal.signal(signal.SIGTERM, on_parent_death)
    die_with_parent(parent, GUARD_SIGNAL)

    def reply(message: Mapping[str, Any]) -> None:
        os.write(reply_fd, (json.dumps(message) + "\n").encode())

    started = time.monotonic()
    skipped = _preload(preload)
    for name, why in skipped.items():
        print(f"packbench warm worker: not preloaded {name}: {why}", file=sys.stderr, flush=True)
    gc.collect()
    gc.freeze()  # the imported world is permanent: children's collections skip it (and leave its pages shared)
    torch = sys.modules.get("torch")
    cuda = bool(torch is not None and torch.cuda.is_initialized())
    reply(
        {
            "ready": not cuda,
            "pid": os.getpid(),
            "preload_s": round(time.monotonic() - started, 2),
            "skipped": skipped,
            "error": "CUDA was initialised while importing" if cuda else None,
        }
    )
    if cuda:
        return 1
    buffer = b""
    while True:
        readable, _, _ = select.select([0], [], [], 0.1)
        if readable:
            data = os.read(0, 65536)
            if not data:  # the runner closed the pipe: end every cell
                kill_children()
                return 0
            buffer += data
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                request = json.loads(line)
                sys.stdout.flush()
                sys.stderr.flush()
                me = os.getpid()
                pid = os.fork()
                if pid == 0:
                    _child(request, me, (reply_fd,))
                children[pid] = request["id"]
                reply({"id": request["id"], "pid": pid})
        while children:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            ident = children.pop(pid, None)
            if ident is not None:
                reply(
                    {
                        "id": ident,
                        "exit": os.waitstatus_to_exitcode(status),
                        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
                    }
                )


def main(argv: Sequence[str] | None = None) -> int:
    from axolotl_packing_bench.core.quiet import quiet_known_noise

    quiet_known_noise()  # before the preloads import torch and torchao; forked cells inherit the filters
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print("usage: python -m axolotl_packing_bench.running.warm PARENT_PID [MODULE...]", file=sys.stderr)
        return 2
    return serve(int(args[0]), args[1:])


# ---------------------------------------------------------------- the runner's side


class WarmWorkerError(RuntimeError):
    """The warm worker could not start or stopped answering."""


@dataclass
class Exit:
    """How a forked cell ended."""

    code: int
    cpu_s: float | None


class WarmWorker:
    """The runner's handle on one warm worker process (used from one thread)."""

    def __init__(
        self, *, env: Mapping[str, str], preload: Sequence[str], log_path: str | Path, ready_timeout: float = 600.0
    ):
        log_path = Path(log_path)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**env, "PYTORCH_NVML_BASED_CUDA_CHECK": "1"}  # torch.cuda.is_available() without initialising CUDA
        with open(log_path, "w", encoding="utf-8") as log:
            self.process = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "axolotl_packing_bench.running.warm", str(os.getpid()), *preload],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=env,
                start_new_session=True,  # signals for the runner's group (Ctrl-C, `timeout`) are the runner's to handle
            )
        self.log_path = log_path
        self._buffer = b""
        self._pids: dict[str, int] = {}
        self.exits: dict[str, Exit] = {}
        started = time.monotonic()
        hello = self._next(lambda message: "ready" in message, timeout=ready_timeout)
        self.preload_s = time.monotonic() - started
        if not hello.get("ready"):
            self.close()
            raise WarmWorkerError(hello.get("error") or "the warm worker did not start")

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def _read(self, timeout: float) -> list[dict[str, Any]]:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        messages = []
        readable, _, _ = select.select([fd], [], [], timeout)
        while readable:
            data = os.read(fd, 65536)
            if not data:
                break
            self._buffer += data
            readable, _, _ = select.select([fd], [], [], 0)
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            message = json.loads(line)
            if "exit" in message:
                self.exits[message["id"]] = Exit(int(message["exit"]), message.get("cpu_s"))
            else:
                messages.append(message)
        return messages

    def _next(self, wanted, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self._read(min(0.5, max(0.0, deadline - time.monotonic()))):
                if wanted(message):
                    return message
            if not self.alive:
                raise WarmWorkerError(
                    f"the warm worker exited with status {self.process.returncode}; see {self.log_path}"
                )
        raise WarmWorkerError(f"the warm worker did not answer within {timeout:g} s; see {self.log_path}")

    def spawn(
        self,
        ident: str,
        *,
        entry: str,
        config: str,
        argv: Sequence[str],
        log: str | Path,
        cwd: str | Path,
        env: Mapping[str, str],
        threads: int | None,
    ) -> int:
        """Fork a child running `entry(config)`; returns its pid (also its process group)."""
        request = {
            "id": ident,
            "entry": entry,
            "config": str(config),
            "argv": list(argv),
            "log": str(log),
            "cwd": str(cwd),
            "env": dict(env),
            "threads": threads,
        }
        assert self.process.stdin is not None
        try:
            self.process.stdin.write((json.dumps(request) + "\n").encode())
            self.process.stdin.flush()
        except BrokenPipeError:
            raise WarmWorkerError(f"the warm worker is gone; see {self.log_path}") from None
        pid = int(self._next(lambda message: message.get("id") == ident and "pid" in message, timeout=60)["pid"])
        self._pids[ident] = pid
        return pid

    def poll(self, ident: str) -> Exit | None:
        """How the child ended, or None while it runs."""
        if ident not in self.exits:
            self._read(0)
        if ident not in self.exits and not self.alive:
            self._read(0)
            if ident not in self.exits:  # the worker died: its children died with it (PDEATHSIG)
                return Exit(-signal.SIGKILL, None)
        return self.exits.get(ident)

    def close(self) -> None:
        """End the worker (its remaining children die with it)."""
        with contextlib.suppress(Exception):
            assert self.process.stdin is not None
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        with contextlib.suppress(Exception):
            assert self.process.stdout is not None
            self.process.stdout.close()


if __name__ == "__main__":
    raise SystemExit(main())
