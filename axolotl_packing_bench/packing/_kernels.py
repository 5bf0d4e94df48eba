"""Numba kernels shared by the strategies: sorting and bins-to-CSR.

Every kernel takes and returns int64 arrays, so each compiles once and the
compiled code is cached on disk (`cache=True`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

MAX_SORTING_CAPACITY = 1 << 24
"""Largest capacity for strategies that sort by length or index bins by free
space: they hold arrays of capacity + 1 entries (16M tokens = 128 MB each)."""


def check_sorting_capacity(capacity: int, strategy: str) -> None:
    """ValueError if `capacity` is too large for a counting-sort strategy."""
    if capacity > MAX_SORTING_CAPACITY:
        raise ValueError(
            f"capacity {capacity:,} is above the {MAX_SORTING_CAPACITY:,} tokens that "
            f"strategy {strategy!r} supports; use a smaller capacity or 'sequential'."
        )


@njit(cache=True)
def length_counts(lengths: np.ndarray, capacity: int) -> np.ndarray:
    """`counts[L]` = number of items of length L, for L in 0..capacity."""
    counts = np.zeros(capacity + 1, dtype=np.int64)
    for length in lengths:
        counts[length] += 1
    return counts


@njit(cache=True)
def order_by_length_descending(lengths: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Item indices sorted by length, longest first, ties in index order.

    A counting sort over `counts` (from `length_counts`): lengths are bounded
    by capacity, so this is O(n + capacity), several times faster than
    `np.argsort`. Kernels that only need the sorted lengths walk `counts`
    instead, avoiding a random gather of `lengths[order]`.
    """
    # starts[L] = number of items strictly longer than L
    starts = np.empty(counts.shape[0], dtype=np.int64)
    running = 0
    for length in range(counts.shape[0] - 1, -1, -1):
        starts[length] = running
        running += counts[length]
    order = np.empty(lengths.shape[0], dtype=np.int64)
    for item in range(lengths.shape[0]):
        length = lengths[item]
        order[starts[length]] = item
        starts[length] += 1
    return order


@njit(cache=True)
def group_by_bin(order: np.ndarray, bin_of: np.ndarray, num_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR bins from a per-item bin number.

    Args:
        order: item indices in the order they were placed.
        bin_of: bin number of `order[i]`, for each `i`.
        num_bins: number of bins used.

    Returns:
        `(bin_offsets, items)`: items of bin `b` are
        `items[bin_offsets[b]:bin_offsets[b + 1]]`, in placement order.
    """
    offsets = np.zeros(num_bins + 1, dtype=np.int64)
    for i in range(bin_of.shape[0]):
        offsets[bin_of[i] + 1] += 1
    for b in range(num_bins):
        offsets[b + 1] += offsets[b]
    fill = offsets[:-1].copy()
    items = np.empty(order.shape[0], dtype=np.int64)
    for i in range(order.shape[0]):
        b = bin_of[i]
        items[fill[b]] = order[i]
        fill[b] += 1
    return offsets, items


def max_any_fit_bins(lengths: np.ndarray, capacity: int) -> int:
    """An upper bound on the bins any any-fit packer opens.

    An any-fit packer opens a bin only when the item fits nowhere, so at most
    one bin ends at most half full; hence k - 1 < 2 * total / capacity.
    """
    total = int(lengths.sum())
    return max(1, min(lengths.shape[0], 2 * total // capacity + 2))


@njit(cache=True)
def item_segments_to_samples(
    seg_items: np.ndarray,
    item_sample: np.ndarray,
    item_offset: np.ndarray,
    item_lengths: np.ndarray,
    starts: np.ndarray,
    stops: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-segment `(sample_index, start, stop)` from item-level segments.

    An empty `item_offset` means every item starts at token 0 of its sample;
    empty `starts`/`stops` mean every segment is its whole item.
    """
    n = seg_items.shape[0]
    has_offset = item_offset.shape[0] > 0
    has_ranges = starts.shape[0] > 0
    sample = np.empty(n, dtype=np.int64)
    start = np.empty(n, dtype=np.int64)
    stop = np.empty(n, dtype=np.int64)
    for i in range(n):
        item = seg_items[i]
        sample[i] = item_sample[item]
        base = item_offset[item] if has_offset else 0
        if has_ranges:
            start[i] = base + starts[i]
            stop[i] = base + stops[i]
        else:
            start[i] = base
            stop[i] = base + item_lengths[item]
    return sample, start, stop
