"""`random`: the paper's random packing.

Shuffle the samples with `seed`, concatenate them, and cut every `capacity`
tokens, so a sample can run across rows (each piece is a segment and the
sample counts as split). The short final remainder is dropped unless
`keep_remainder=True`, as in the paper; its tokens are reported as
`PackPlan.num_remainder_tokens`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from axolotl_packing_bench.packing.registry import Assignment, register_strategy


@njit(cache=True)
def _cut(
    lengths: np.ndarray, order: np.ndarray, capacity: int, keep_remainder: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    total = 0
    for length in lengths:
        total += length
    full = total // capacity
    limit = total if keep_remainder else full * capacity
    num_bins = -(-limit // capacity)
    offsets = np.empty(num_bins + 1, dtype=np.int64)
    offsets[0] = 0
    # each bin boundary cuts at most one item in two
    items = np.empty(order.shape[0] + num_bins, dtype=np.int64)
    starts = np.empty_like(items)
    stops = np.empty_like(items)
    placed = 0
    room = capacity  # tokens left in the current bin
    seg = 0
    b = 0
    for i in range(order.shape[0]):
        if placed >= limit:
            break
        item = order[i]
        length = lengths[item]
        s = 0
        while s < length and placed < limit:
            take = length - s
            if take > room:
                take = room
            if take > limit - placed:
                take = limit - placed
            items[seg] = item
            starts[seg] = s
            stops[seg] = s + take
            seg += 1
            s += take
            placed += take
            room -= take
            if room == 0:
                b += 1
                offsets[b] = seg
                room = capacity
    offsets[num_bins] = seg
    return offsets, items[:seg], starts[:seg], stops[:seg], total - limit


@register_strategy("random", splits_samples=True)
def random_cut(lengths: np.ndarray, capacity: int, *, seed: int, keep_remainder: bool = False) -> Assignment:
    """Concatenate samples in a seeded random order and cut every `capacity`
    tokens; drop the short final remainder unless `keep_remainder`."""
    order = np.random.default_rng(seed).permutation(lengths.shape[0])
    offsets, items, starts, stops, dropped = _cut(lengths, order, capacity, bool(keep_remainder))
    return Assignment(offsets, items, starts, stops, int(dropped))
