"""How loaded the machine was while a cell trained, beyond the runner's own cells.

Two readings per cell, at its start and end:

- the 1-minute load average (`os.getloadavg`), shown as is; it lags by about
  a minute and counts the runner's own training threads;
- the CPU time the whole machine spent busy (`/proc/stat`) minus the CPU
  time of packbench's own processes (the runner and every cell it runs,
  read from `/proc/<pid>/stat` by process group): what *other* programs
  took while the cell ran, in cores (`others_cores`).

`loaded` is true when other programs used more than `LOADED_CORES` (half a
core) on average during the cell; where `/proc/stat` cannot be read, when the
load average at start or end exceeded `cores - 0.5` plus the threads of the
runner's own cells. A loaded cell's time is not comparable with an idle one.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

LOADED_CORES = 0.5
"""Average cores taken by other programs during a cell above which it counts as measured on a loaded machine."""

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def load_1m() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def machine_busy_s() -> float | None:
    """CPU-seconds every core of the machine has spent busy since boot, or None."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = handle.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    values = [int(value) for value in fields[1:]]
    # user nice system idle iowait irq softirq steal (guest time is already inside user)
    busy = values[0] + values[1] + values[2] + sum(values[5:8])
    return busy / _TICK


def group_cpu_s(groups: Iterable[int]) -> float:
    """CPU-seconds of the living processes in these process groups (with their reaped children)."""
    wanted = set(groups)
    if not wanted:
        return 0.0
    total = 0
    try:
        entries = os.listdir("/proc")
    except OSError:
        return 0.0
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                text = handle.read()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2 :].split()
        # fields[0] is state (field 3); pgrp is field 5, utime..cstime are fields 14-17
        if len(fields) > 14 and int(fields[2]) in wanted:
            total += sum(int(value) for value in fields[11:15])
    return total / _TICK


def self_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class OwnCpu:
    """The CPU packbench itself has used: the runner plus every cell (finished ones from their exit)."""

    finished_s: float = 0.0

    def total(self, running_groups: Iterable[int]) -> float:
        return self_cpu_s() + self.finished_s + group_cpu_s(running_groups)


@dataclass(frozen=True)
class Reading:
    """One instant: load average, machine busy CPU, packbench's own CPU."""

    load_1m: float | None
    busy_s: float | None
    own_s: float


def read(own: OwnCpu, running_groups: Iterable[int]) -> Reading:
    return Reading(load_1m(), machine_busy_s(), own.total(running_groups))


def summarize(
    start: Reading, end: Reading, *, wall_s: float, cells_beside: int, threads_per_cell: int
) -> dict[str, Any]:
    """The `runner.load` section of a cell's result (see the module docstring for `loaded`)."""
    n = cores()
    own_threads = min(n, (cells_beside + 1) * threads_per_cell)
    others = None
    if start.busy_s is not None and end.busy_s is not None and wall_s > 0:
        others = max(0.0, (end.busy_s - start.busy_s) - (end.own_s - start.own_s)) / wall_s
    averages = [value for value in (start.load_1m, end.load_1m) if value is not None]
    if others is not None:
        loaded = others > LOADED_CORES
        rule = f"other programs used more than {LOADED_CORES:g} core on average during the cell"
    else:
        loaded = bool(averages) and max(averages) > n - 0.5 + own_threads
        rule = "1-minute load average at start or end above cores - 0.5 + the runner's own threads"
    return {
        "cores": n,
        "load_1m_start": start.load_1m,
        "load_1m_end": end.load_1m,
        "others_cores": None if others is None else round(others, 2),
        "cells_beside": cells_beside,
        "own_threads": own_threads,
        "loaded": loaded,
        "rule": rule,
    }
