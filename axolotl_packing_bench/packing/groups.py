"""Per-sample group labels for the `related` and `unrelated` strategies.

A group is what makes samples related: a topic, a category, a cluster of
TF-IDF vectors (see `axolotl_packing_bench.plugin.relatedness`, which computes them;
this module needs only numpy and numba). Strategies receive one label per
input sample and index it with `sample_index`, so labels follow samples
through the overflow policy (every piece of a split sample keeps its group).
"""

from __future__ import annotations

import warnings

import numpy as np
from numba import njit


def item_groups(groups: object, sample_index: np.ndarray, *, strategy: str, option: str = "groups") -> np.ndarray:
    """int64 group code (0..G-1) of each item, from one label per input sample.

    Args:
        groups: one label per input sample (ints, strings, any hashable numpy
            can sort), or None: every sample is in one group.
        sample_index: the input sample of each item.
        strategy: the strategy's name, for error messages.
        option: the option's name, for error messages.

    Raises:
        ValueError: `groups` is not 1-D or has fewer labels than samples.
    """
    n_items = sample_index.shape[0]
    if groups is None:
        if n_items:
            warnings.warn(
                f"packing strategy {strategy!r} got no {option}=, so every sample is one group; "
                f"pass {option}= (one label per sample) to pack by group.",
                stacklevel=4,
            )
        return np.zeros(n_items, dtype=np.int64)
    labels = np.asarray(groups)
    if labels.ndim != 1:
        raise ValueError(
            f"{option}= of strategy {strategy!r} must be 1-D, one label per sample; got shape {labels.shape}."
        )
    needed = int(sample_index.max()) + 1 if n_items else 0
    if labels.shape[0] < needed:
        raise ValueError(
            f"{option}= of strategy {strategy!r} has {labels.shape[0]} labels but sample {needed - 1} "
            "needs one; pass one label per sample, in the order of the lengths."
        )
    if n_items == 0:
        return np.zeros(0, dtype=np.int64)
    _, codes = np.unique(labels[sample_index], return_inverse=True)
    return codes.astype(np.int64).reshape(-1)


@njit(cache=True)
def spread_groups_in_bins(bin_offsets: np.ndarray, items: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Reorder each bin's items so that no two adjacent share a group, where possible.

    Greedy: take next an item of the group with the most items left in the
    bin, other than the previous item's group (ties: the group that comes
    first in the bin). This succeeds whenever any arrangement does (no group
    holds more than half the bin, rounded up). Items of one group keep their
    order.
    """
    out = items.copy()
    for b in range(bin_offsets.shape[0] - 1):
        lo, hi = bin_offsets[b], bin_offsets[b + 1]
        size = hi - lo
        if size <= 2:  # two items are adjacent in either order
            continue
        # local group of each item, numbered by first appearance in the bin
        local = np.empty(size, dtype=np.int64)
        first_code = np.empty(size, dtype=np.int64)
        num_groups = 0
        for i in range(size):
            code = codes[items[lo + i]]
            g = 0
            while g < num_groups and first_code[g] != code:
                g += 1
            if g == num_groups:
                first_code[g] = code
                num_groups += 1
            local[i] = g
        left = np.zeros(num_groups, dtype=np.int64)
        for i in range(size):
            left[local[i]] += 1
        cursor = np.zeros(num_groups, dtype=np.int64)  # next position to look at, per group
        previous = -1
        for position in range(size):
            best = -1
            for g in range(num_groups):
                if g != previous and left[g] > 0 and (best < 0 or left[g] > left[best]):
                    best = g
            if best < 0:  # only the previous group is left: unavoidable
                best = previous
            i = cursor[best]
            while local[i] != best:
                i += 1
            cursor[best] = i + 1
            left[best] -= 1
            out[lo + position] = items[lo + i]
            previous = best
    return out


@njit(cache=True)
def gather_groups_in_bins(bin_offsets: np.ndarray, items: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Reorder each bin's items so that items of one group sit together.

    Groups appear in the order of their first item in the bin; items of one
    group keep their order.
    """
    out = items.copy()
    for b in range(bin_offsets.shape[0] - 1):
        lo, hi = bin_offsets[b], bin_offsets[b + 1]
        size = hi - lo
        used = np.zeros(size, dtype=np.bool_)
        position = lo
        for i in range(size):
            if used[i]:
                continue
            group = codes[items[lo + i]]
            for j in range(i, size):
                if not used[j] and codes[items[lo + j]] == group:
                    used[j] = True
                    out[position] = items[lo + j]
                    position += 1
    return out
