"""The backend protocol behind `packbench run`'s one driver loop, and the registry of backends.

A backend only runs cells; the driver (`running.driver`) plans, records,
shows progress and sees that eval and probes run. The protocol is small:

    backend.submit(plan)          start (or queue) one planned cell repeat
    backend.poll(wait_s) -> [...]  outcomes that arrived, waiting up to wait_s
    backend.cancel()              kill what runs; nothing more is reported
    backend.close()               release workers, connections

`slots` says how many cells the driver may have submitted at once (None:
all; the backend or its engine queues them). An `Outcome` carries the
training result (`stage="trained"`) and, when the backend runs the cell's
follow-up itself (`runs_follow_up`), later the evaluated one
(`stage="final"`); otherwise the driver runs the follow-up. A failed attempt
that the backend retries is `stage="attempt"`: recorded, the cell goes on. A backend that
hands cells to an engine which records them itself (Slurm) reports
`Outcome(plan, None, "handed_off")` and sets `hands_off = True`: the driver
then leaves claiming each cell (`results.claims`) to that engine's tasks;
otherwise the driver claims every cell before `submit`.

Register one with `register_backend("name", factory)`; `factory(options)`
gets the `BackendOptions` and returns the backend. `packbench run --backend
NAME` finds it by name; a third party registers from its own module (import
it first, e.g. from a `conftest.py` or a `sitecustomize`), or through the
`packbench.backends` entry-point group.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from axolotl_packing_bench.matrix.spec import Matrix
from axolotl_packing_bench.results.store import RunResult
from axolotl_packing_bench.running.runner import DEFAULT_TRAIN_COMMAND, CellPlan

Stage = Literal["trained", "attempt", "final", "handed_off"]


@dataclass(frozen=True)
class Outcome:
    """Something a backend reports about a plan: its training result, its final result, or a hand-off."""

    plan: CellPlan
    result: RunResult | None
    stage: Stage = "trained"


FollowUp = Callable[[CellPlan, RunResult], RunResult]
"""`follow_up(plan, trained_result) -> final_result`: eval and probes (`running.follow_up.MatrixFollowUp`).

The driver records the trained result before it calls the follow-up, so an interrupted follow-up loses nothing."""


@dataclass(frozen=True)
class BackendOptions:
    """Everything `packbench run` tells a backend.

    Attributes:
        matrix: The loaded matrix (its `resources:` section, its path).
        runs_dir: Where cells run (`runs/`).
        results_path: The results file (backends that record themselves).
        leaderboard_path: The leaderboard (same).
        jobs: Cells at once (local).
        command: Train command template, or None for the default train entry.
        train_entry: `module:function(config)` the warm worker calls (local).
        isolated: Run every cell in a fresh interpreter (local).
        timeout: Per-cell timeout overriding each cell's own.
        env: Environment of training processes (None: `child_env(jobs)`).
        resolve: `packbench://` URI resolver (None: the embedded assets).
        follow_up: The matrix's eval/probes step, for backends that run it themselves.
        extra: Backend-specific settings (`ray_address`, `retries`, `submit`, `dry_run`, ...).
        stop: Set when the user interrupts.
    """

    matrix: Matrix | None = None
    runs_dir: Path = Path("runs")
    results_path: Path | None = None
    leaderboard_path: Path | None = None
    jobs: int = 1
    command: Sequence[str] | None = None
    train_entry: str | None = None
    isolated: bool = False
    timeout: float | None = None
    env: Mapping[str, str] | None = None
    resolve: Callable[[str], str] | None = None
    follow_up: FollowUp | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def train_command(self) -> Sequence[str]:
        return tuple(self.command) if self.command else DEFAULT_TRAIN_COMMAND


class Backend(Protocol):
    """What the driver needs from a backend (see the module docstring)."""

    name: str
    slots: int | None
    runs_follow_up: bool

    def submit(self, plan: CellPlan) -> None: ...

    def poll(self, wait_s: float) -> list[Outcome]: ...

    def cancel(self) -> None: ...

    def close(self) -> None: ...


def describe(backend: Backend, plans: Sequence[CellPlan]) -> str | None:
    """What the backend would do with `plans` (`--dry-run`), if it says; else None (the driver prints the plan)."""
    method = getattr(backend, "describe", None)
    return method(plans) if callable(method) else None


BackendFactory = Callable[[BackendOptions], Backend]

_REGISTRY: dict[str, BackendFactory] = {}
_BUILTIN = {
    "local": "axolotl_packing_bench.running.backends.local:LocalBackend",
    "ray": "axolotl_packing_bench.running.backends.ray_backend:RayBackend",
    "slurm": "axolotl_packing_bench.running.backends.slurm:SlurmBackend",
}


class BackendError(RuntimeError):
    """A backend cannot go on; its message is one sentence for the user (e.g. sbatch is missing)."""


class UnknownBackend(ValueError):
    """No backend of that name is registered."""


def register_backend(name: str, factory: BackendFactory) -> BackendFactory:
    """Make `--backend NAME` build backends with `factory(options)`; returns the factory."""
    _REGISTRY[name] = factory
    return factory


def _load_entry_points() -> None:
    from importlib.metadata import entry_points

    for point in entry_points(group="packbench.backends"):
        if point.name not in _REGISTRY:
            _REGISTRY[point.name] = point.load()


def backend_names() -> list[str]:
    """Every backend `--backend` accepts."""
    _load_entry_points()
    return sorted({*_BUILTIN, *_REGISTRY})


def make_backend(name: str, options: BackendOptions) -> Backend:
    """The backend called `name`, built for `options`; `UnknownBackend` naming the valid ones."""
    if name not in _REGISTRY and name in _BUILTIN:
        import importlib

        module, _, attr = _BUILTIN[name].partition(":")
        _REGISTRY[name] = getattr(importlib.import_module(module), attr)
    if name not in _REGISTRY:
        _load_entry_points()
    if name not in _REGISTRY:
        raise UnknownBackend(f"unknown backend {name!r}; choose one of {', '.join(backend_names())}")
    return _REGISTRY[name](options)
