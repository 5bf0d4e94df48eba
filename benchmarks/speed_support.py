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


TRL_SAMPLES = 200_000
"""TRL packs through `datasets.map` (batches of 1,000 rows, as its trainer calls it) on real token lists, too slow
and memory-hungry for 1.2M samples in a benchmark: it is timed on the first 200,000 lengths, as ANCHORS.md did."""


def trl_pack_dataset():
    """TRL's `pack_dataset`, or a skip when TRL is not installed."""
    trl = pytest.importorskip("trl", reason="trl is not installed (the axolotl extra installs it)")
    return trl.pack_dataset


def trl_strategies() -> list[str]:
    """The BFD strategies the installed TRL has (`bfd`, and `bfd_split` where present)."""
    try:
        import inspect

        from trl import data_utils
    except ImportError:
        return ["bfd"]
    return [name for name in ("bfd", "bfd_split") if f'"{name}"' in inspect.getsource(data_utils.pack_dataset)]


def trl_dataset(lengths: np.ndarray):
    """A `datasets.Dataset` with one `input_ids` list per length (token ids all zero: only lengths matter)."""
    import pyarrow as pa
    from datasets import Dataset
    from datasets.table import InMemoryTable

    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    ids = pa.ListArray.from_arrays(pa.array(offsets), pa.array(np.zeros(int(offsets[-1]), dtype=np.int32)))
    return Dataset(InMemoryTable(pa.table({"input_ids": ids})))
