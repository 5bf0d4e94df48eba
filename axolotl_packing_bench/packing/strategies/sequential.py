"""`sequential`: next-fit in dataset order; never splits."""

from __future__ import annotations

import numpy as np
from numba import njit

from axolotl_packing_bench.packing._kernels import group_by_bin
from axolotl_packing_bench.packing.registry import Assignment, register_strategy


@njit(cache=True)
def _next_fit(lengths: np.ndarray, capacity: int) -> tuple[np.ndarray, int]:
    bin_of = np.empty(lengths.shape[0], dtype=np.int64)
    current = -1
    free = 0
    for i in range(lengths.shape[0]):
        if lengths[i] > free:
            current += 1
            free = capacity
        free -= lengths[i]
        bin_of[i] = current
    return bin_of, current + 1


@register_strategy("sequential")
def next_fit(lengths: np.ndarray, capacity: int) -> Assignment:
    """Next-fit: fill the current bin in dataset order; open a new one when
    the next sample does not fit. O(n)."""
    bin_of, num_bins = _next_fit(lengths, capacity)
    offsets, items = group_by_bin(np.arange(lengths.shape[0], dtype=np.int64), bin_of, num_bins)
    return Assignment(offsets, items)
