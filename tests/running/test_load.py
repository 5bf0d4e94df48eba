"""The machine-load reading of a cell: other programs' CPU, the load average, and the `loaded` rule."""

from __future__ import annotations

import os

import pytest

from axolotl_packing_bench.running import load


def test_others_cpu_is_machine_busy_minus_packbench_own():
    start = load.Reading(load_1m=0.2, busy_s=100.0, own_s=10.0)
    end = load.Reading(load_1m=1.9, busy_s=140.0, own_s=30.0)  # 40 cpu-s busy in 20 s, 20 of them ours
    section = load.summarize(start, end, wall_s=20.0, cells_beside=0, threads_per_cell=2)
    assert section["others_cores"] == 1.0 and section["loaded"] is True
    assert section["load_1m_start"] == 0.2 and section["load_1m_end"] == 1.9 and section["cells_beside"] == 0
    quiet = load.summarize(start, load.Reading(1.9, 122.0, 30.0), wall_s=20.0, cells_beside=1, threads_per_cell=1)
    assert quiet["others_cores"] == 0.1 and quiet["loaded"] is False and quiet["own_threads"] == min(load.cores(), 2)


def test_without_proc_stat_the_load_average_decides():
    cores = load.cores()
    busy = load.summarize(
        load.Reading(cores + 1.0, None, 0.0), load.Reading(0.5, None, 1.0), wall_s=5, cells_beside=0, threads_per_cell=0
    )
    assert busy["others_cores"] is None and busy["loaded"] is True
    idle = load.summarize(
        load.Reading(0.1, None, 0.0), load.Reading(0.3, None, 1.0), wall_s=5, cells_beside=0, threads_per_cell=1
    )
    assert idle["loaded"] is False


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="reads /proc")
def test_readings_on_this_machine():
    assert load.machine_busy_s() > 0
    assert load.group_cpu_s([os.getpgrp()]) > 0  # this test's own process group has used CPU
    assert load.group_cpu_s([]) == 0.0
