"""`unrelated`: spread groups (topics) across packs, so a row mixes topics.

Three steps; the first fixes the rows' shape, so efficiency is exactly `bfd`'s:

1. Best-fit decreasing over all samples gives bins, each a multiset of
   lengths.
2. Samples of equal length are interchangeable without changing any bin's
   fill. For each length, longest first, its samples are dealt out to the
   bins holding that length, each bin taking a sample of a group it does not
   hold yet when there is one (groups taken in turn, so none is left over to
   be forced together at the end).
3. Inside each bin, samples are ordered so that no two adjacent share a
   group, where the bin's groups allow it.

    bfd bins:   [A6 A3 A1] [B6 B3 B1]         (two groups, A and B)
    step 2:     [A6 B3 A1] [B6 A3 B1]         (the 3s swapped)
    step 3:     [A6 B3 A1] [B6 A3 B1]         no two neighbours share a group
"""

from __future__ import annotations

import numpy as np
from numba import njit

from axolotl_packing_bench.packing.groups import item_groups, spread_groups_in_bins
from axolotl_packing_bench.packing.registry import Assignment, register_strategy
from axolotl_packing_bench.packing.strategies.bfd import best_fit_decreasing

_MAX_RUNS_SCANNED = 64  # per slot: bounds the work when a bin already holds many groups


@njit(cache=True)
def _deal_equal_lengths(
    slot_order: np.ndarray,
    slot_length: np.ndarray,
    bin_of_slot: np.ndarray,
    bin_offsets: np.ndarray,
    pool: np.ndarray,
    pool_code: np.ndarray,
) -> np.ndarray:
    """Item for each slot; `slot_order` and `pool` list the same lengths, longest first."""
    n = slot_order.shape[0]
    slot_item = np.empty(n, dtype=np.int64)
    slot_code = np.full(n, -1, dtype=np.int64)  # group placed in each slot, -1 until placed
    run_start = np.empty(n, dtype=np.int64)
    run_left = np.empty(n, dtype=np.int64)
    s = 0
    while s < n:
        length = slot_length[slot_order[s]]
        e = s
        while e < n and slot_length[slot_order[e]] == length:
            e += 1
        # runs of one group in pool[s:e] (the pool is sorted by group within a length)
        runs = 0
        i = s
        while i < e:
            j = i
            while j < e and pool_code[j] == pool_code[i]:
                j += 1
            run_start[runs] = i
            run_left[runs] = j - i
            runs += 1
            i = j
        turn = 0
        for k in range(s, e):
            slot = slot_order[k]
            b = bin_of_slot[slot]
            chosen = -1
            fallback = -1
            for step in range(min(runs, _MAX_RUNS_SCANNED)):
                r = (turn + step) % runs
                if run_left[r] == 0:
                    continue
                if fallback < 0:
                    fallback = r
                code = pool_code[run_start[r]]
                held = False
                for p in range(bin_offsets[b], bin_offsets[b + 1]):
                    if slot_code[p] == code:
                        held = True
                        break
                if not held:
                    chosen = r
                    break
            if chosen < 0:
                chosen = fallback
            if chosen < 0:  # every scanned run is empty: take the next non-empty one
                for step in range(runs):
                    r = (turn + step) % runs
                    if run_left[r] > 0:
                        chosen = r
                        break
            position = run_start[chosen]
            run_start[chosen] += 1
            run_left[chosen] -= 1
            slot_item[slot] = pool[position]
            slot_code[slot] = pool_code[position]
            turn = (chosen + 1) % runs
        s = e
    return slot_item


@register_strategy("unrelated")
def unrelated(
    lengths: np.ndarray,
    capacity: int,
    *,
    sample_index: np.ndarray,
    groups: object = None,
) -> Assignment:
    """Rows of `bfd`'s shape whose samples come from as many groups as possible.

    Args:
        lengths: item lengths, each in [1, capacity].
        capacity: tokens per bin.
        sample_index: input sample of each item (passed by `pack`).
        groups: one group label per input sample (topic, cluster id...); None
            puts every sample in one group, which packs exactly like `bfd`.
    """
    codes = item_groups(groups, sample_index, strategy="unrelated")
    plan = best_fit_decreasing(lengths, capacity)
    n = lengths.shape[0]
    if n == 0:
        return plan
    offsets, items = plan.bin_offsets, plan.items
    slot_length = lengths[items]
    slots = np.arange(n, dtype=np.int64)
    slot_order = np.lexsort((slots, -slot_length))  # longest first, then bin order
    pool = np.lexsort((slots, codes, -lengths))  # longest first, then group
    bin_of_slot = np.repeat(np.arange(offsets.shape[0] - 1, dtype=np.int64), np.diff(offsets))
    dealt = _deal_equal_lengths(
        slot_order.astype(np.int64), slot_length, bin_of_slot, offsets, pool.astype(np.int64), codes[pool]
    )
    return Assignment(offsets, spread_groups_in_bins(offsets, dealt, codes))
