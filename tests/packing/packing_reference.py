"""Slow, obviously-correct pure-Python packers to check the numba ones against."""

from __future__ import annotations


def _longest_first(lengths: list[int]) -> list[int]:
    return sorted(range(len(lengths)), key=lambda i: -lengths[i])  # stable


def first_fit_decreasing(lengths: list[int], capacity: int) -> list[list[int]]:
    """Bins (lists of sample indices in placement order), FFD, empties skipped."""
    bins: list[list[int]] = []
    free: list[int] = []
    for i in _longest_first(lengths):
        if lengths[i] == 0:
            continue
        for b, room in enumerate(free):
            if room >= lengths[i]:
                bins[b].append(i)
                free[b] -= lengths[i]
                break
        else:
            bins.append([i])
            free.append(capacity - lengths[i])
    return bins


def best_fit_decreasing(lengths: list[int], capacity: int) -> list[list[int]]:
    """Bins, BFD: tightest bin with room (ties: lowest index), empties skipped."""
    bins: list[list[int]] = []
    free: list[int] = []
    for i in _longest_first(lengths):
        if lengths[i] == 0:
            continue
        fits = [b for b, room in enumerate(free) if room >= lengths[i]]
        if fits:
            b = min(fits, key=lambda b: free[b])
            bins[b].append(i)
            free[b] -= lengths[i]
        else:
            bins.append([i])
            free.append(capacity - lengths[i])
    return bins


def next_fit(lengths: list[int], capacity: int) -> list[list[int]]:
    """Bins, next-fit in the given order, empties skipped."""
    bins: list[list[int]] = []
    room = 0
    for i, length in enumerate(lengths):
        if length == 0:
            continue
        if length > room or not bins:
            bins.append([])
            room = capacity
        bins[-1].append(i)
        room -= length
    return bins
