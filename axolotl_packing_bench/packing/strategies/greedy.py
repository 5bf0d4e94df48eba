"""`greedy`: the paper's greedy packing, first-fit decreasing.

Samples sorted by length (longest first, ties in dataset order) each go into
the FIRST bin with room. A 16-ary max-tree over bins (leaf = free space of a
bin, node = max of its 16 children) finds that bin in a few cache lines:
walk down, taking the first child with room. Unopened bins are leaves with
full capacity, so "first bin with room" opens a new bin exactly when needed.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from axolotl_packing_bench.packing._kernels import (
    check_sorting_capacity,
    group_by_bin,
    length_counts,
    max_any_fit_bins,
    order_by_length_descending,
)
from axolotl_packing_bench.packing.registry import Assignment, register_strategy

_ARITY = 16  # 16 int32 children = one 64-byte cache line


@njit(cache=True)
def _first_fit(counts: np.ndarray, max_bins: int) -> tuple[np.ndarray, int]:
    capacity = counts.shape[0] - 1
    # level 0 holds the leaves; level j node k has children 16k..16k+15 of level j-1
    depth = 1
    leaves = _ARITY
    while leaves < max_bins:
        leaves *= _ARITY
        depth += 1
    level_start = np.zeros(depth + 1, dtype=np.int64)
    size = leaves
    for level in range(depth):
        level_start[level + 1] = level_start[level] + size
        size //= _ARITY
    tree = np.full(level_start[depth] + 1, capacity, dtype=np.int32)
    bin_of = np.empty(counts.sum(), dtype=np.int64)
    num_bins = 0
    i = 0
    for length in range(capacity, 0, -1):
        for _ in range(counts[length]):
            if tree[level_start[depth]] < length:
                raise RuntimeError("greedy opened more bins than its bound")
            node = 0
            for level in range(depth - 1, -1, -1):
                child = level_start[level] + node * _ARITY
                while tree[child] < length:
                    child += 1
                node = child - level_start[level]
            bin_of[i] = node
            i += 1
            if node >= num_bins:
                num_bins = node + 1
            tree[node] -= length
            for level in range(1, depth + 1):  # refresh maxima upward
                node //= _ARITY
                first = level_start[level - 1] + node * _ARITY
                best = tree[first]
                for child in range(first + 1, first + _ARITY):
                    if tree[child] > best:
                        best = tree[child]
                if tree[level_start[level] + node] == best:
                    break
                tree[level_start[level] + node] = best
    return bin_of, num_bins


@register_strategy("greedy")
def first_fit_decreasing(lengths: np.ndarray, capacity: int) -> Assignment:
    """First-fit decreasing (the paper's greedy packing): longest first, into
    the lowest-numbered bin with room; never splits. O(n log n)."""
    check_sorting_capacity(capacity, "greedy")
    counts = length_counts(lengths, capacity)
    bin_of, num_bins = _first_fit(counts, max_any_fit_bins(lengths, capacity))
    order = order_by_length_descending(lengths, counts)
    offsets, items = group_by_bin(order, bin_of, num_bins)
    return Assignment(offsets, items)
