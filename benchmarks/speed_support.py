"""Constants and helpers for the packing benchmarks."""

from __future__ import annotations

import time

import numpy as np
import pytest

NUM_SAMPLES = 1_200_000
CAPACITY = 4096
# Axolotl's own packer, as its trainer calls it (1 process, groups of 100k,
# at most 200 samples per row).
REFERENCE_ARGS = {
    "bin_capacity": CAPACITY,
    "group_size": 100_000,
    "bin_size": 200,
    "num_processes": 1,
}


def reference_packer():
    """Axolotl's `pack_parallel`, or a skip when Axolotl is not installed."""
    pytest.importorskip("axolotl", reason="axolotl is not installed; the reference packer is Axolotl's pack_parallel")
    from axolotl_packing_bench.compat.axolotl_api import pack_parallel

    return pack_parallel


def reference_min_seconds(timings: dict[str, float], lengths: np.ndarray) -> float:
    """The reference min time of this run, measured now if its benchmark did not run."""
    if "reference" not in timings:
        pack_parallel = reference_packer()
        pack_parallel(lengths[:1000], **REFERENCE_ARGS)  # numba compile, not timed
        best = float("inf")
        for _ in range(2):
            began = time.perf_counter()
            pack_parallel(lengths, **REFERENCE_ARGS)
            best = min(best, time.perf_counter() - began)
        timings["reference"] = best
    return timings["reference"]


def min_seconds(benchmark) -> float:
    """The min time pytest-benchmark measured."""
    return benchmark.stats.stats.min
