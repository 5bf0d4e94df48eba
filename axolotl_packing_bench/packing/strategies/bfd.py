"""`bfd`: best-fit decreasing. Longest sample first, into the tightest bin.

Open bins are kept by free space: `head[f]` is a stack (linked through
`below`) of bins with exactly `f` tokens free, and a bitset marks the free
spaces with at least one bin. The tightest bin for a sample of length L is
the top of the stack at the smallest set bit >= L. Ties between bins with the
same free space go to the most recently used one. Samples are never split.
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

# The free-space bitset lives here, not in a shared module, because numba's
# on-disk cache is invalidated only when the cached function's own file
# changes: kernels called from another file could go stale.

# A two-level bitset over free-space values: `words` holds one bit per value,
# `summary` one bit per non-zero word, so the next set bit at or above a value
# takes a few word operations even for capacities of a million tokens.
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)
_ONE = np.uint64(1)

try:  # an LLVM cttz intrinsic; fall back to a de Bruijn lookup if it moves
    from numba.cpython.unsafe.numbers import trailing_zeros as _cttz

    @njit(cache=True)
    def _lowest_bit(word: np.uint64) -> int:
        return np.int64(_cttz(word))

except ImportError:  # pragma: no cover
    _DEBRUIJN = np.uint64(0x03F79D71B4CB0A89)
    _TABLE = np.zeros(64, dtype=np.int64)
    for _i in range(64):
        _TABLE[((1 << _i) * 0x03F79D71B4CB0A89 & 0xFFFFFFFFFFFFFFFF) >> 58] = _i

    @njit(cache=True)
    def _lowest_bit(word: np.uint64) -> int:
        isolated = word & (~word + _ONE)
        return _TABLE[np.int64((isolated * _DEBRUIJN) >> np.uint64(58))]


def new_bitset(max_value: int) -> tuple[np.ndarray, np.ndarray]:
    """Empty `(words, summary)` able to hold values `0..max_value`."""
    num_words = (max_value >> 6) + 1
    return np.zeros(num_words, np.uint64), np.zeros((num_words >> 6) + 1, np.uint64)


@njit(cache=True)
def bitset_add(words: np.ndarray, summary: np.ndarray, value: int) -> None:
    """Set the bit of `value`."""
    w = value >> 6
    words[w] |= _ONE << np.uint64(value & 63)
    summary[w >> 6] |= _ONE << np.uint64(w & 63)


@njit(cache=True)
def bitset_remove(words: np.ndarray, summary: np.ndarray, value: int) -> None:
    """Clear the bit of `value`."""
    w = value >> 6
    words[w] &= ~(_ONE << np.uint64(value & 63))
    if words[w] == 0:
        summary[w >> 6] &= ~(_ONE << np.uint64(w & 63))


@njit(cache=True)
def bitset_next(words: np.ndarray, summary: np.ndarray, value: int) -> int:
    """The smallest set value >= `value`, or -1 if there is none."""
    w = value >> 6
    if w >= words.shape[0]:
        return -1
    word = words[w] & (_ALL << np.uint64(value & 63))
    if word != 0:
        return (w << 6) + _lowest_bit(word)
    # the next non-empty word after w, from the summary
    w += 1
    s = w >> 6
    if s >= summary.shape[0]:
        return -1
    bits = summary[s] & (_ALL << np.uint64(w & 63))
    while bits == 0:
        s += 1
        if s >= summary.shape[0]:
            return -1
        bits = summary[s]
    w = (s << 6) + _lowest_bit(bits)
    return (w << 6) + _lowest_bit(words[w])


@njit(cache=True)
def _best_fit(counts: np.ndarray, max_bins: int, words: np.ndarray, summary: np.ndarray) -> tuple[np.ndarray, int]:
    # Walks lengths longest first straight from the histogram: no gather.
    capacity = counts.shape[0] - 1
    head = np.full(capacity + 1, -1, dtype=np.int64)
    below = np.empty(max_bins, dtype=np.int64)
    bin_of = np.empty(counts.sum(), dtype=np.int64)
    num_bins = 0
    i = 0
    for length in range(capacity, 0, -1):
        for _ in range(counts[length]):
            free = bitset_next(words, summary, length)
            if free < 0:  # nothing fits: open a bin
                if num_bins == max_bins:
                    raise RuntimeError("bfd opened more bins than its bound")
                b = num_bins
                num_bins += 1
                free = capacity - length
            else:
                b = head[free]
                head[free] = below[b]
                if head[free] < 0:
                    bitset_remove(words, summary, free)
                free -= length
            bin_of[i] = b
            i += 1
            if free > 0:
                if head[free] < 0:
                    bitset_add(words, summary, free)
                below[b] = head[free]
                head[free] = b
    return bin_of, num_bins


@register_strategy("bfd")
def best_fit_decreasing(lengths: np.ndarray, capacity: int) -> Assignment:
    """Best-fit decreasing: each sample, longest first, into the bin it fills
    tightest; a new bin only when it fits nowhere. O(n + capacity)."""
    check_sorting_capacity(capacity, "bfd")
    counts = length_counts(lengths, capacity)
    words, summary = new_bitset(capacity)
    bin_of, num_bins = _best_fit(counts, max_any_fit_bins(lengths, capacity), words, summary)
    order = order_by_length_descending(lengths, counts)
    offsets, items = group_by_bin(order, bin_of, num_bins)
    return Assignment(offsets, items)
