"""Input checks and the overflow policy: from sample lengths to items.

An item is what a strategy places: a whole sample, or (under
`overflow="split"`) one capacity-sized piece of an overlong sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OVERFLOW_POLICIES: tuple[str, ...] = ("truncate", "drop", "split")
"""What to do with a sample longer than capacity: keep its first `capacity`
tokens, drop it, or cut it into capacity-sized pieces (one segment each)."""


@dataclass(frozen=True, eq=False)
class Items:
    """The items handed to a strategy, and what the policy did to get them.

    Attributes:
        lengths: int64 tokens per item.
        sample_index: int64 input sample of each item.
        offset: int64 token offset of each item within its sample, or None
            when every item starts at token 0.
        input_tokens: tokens in all input samples.
        num_dropped_empty: zero-length samples dropped.
        num_dropped_overlong: overlong samples dropped (`overflow="drop"`).
        num_truncated: overlong samples cut to capacity (`overflow="truncate"`).
    """

    lengths: np.ndarray
    sample_index: np.ndarray
    offset: np.ndarray | None
    input_tokens: int
    num_dropped_empty: int
    num_dropped_overlong: int
    num_truncated: int


def as_lengths(lengths: object) -> np.ndarray:
    """`lengths` as a 1-D int64 array; ValueError naming the fix otherwise."""
    array = np.asarray(lengths)
    if array.ndim != 1:
        raise ValueError(
            f"lengths must be a 1-D sequence of integers, got an array of shape "
            f"{array.shape}; pass one length per sample, e.g. lengths.ravel()."
        )
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            f"lengths must be integers, got dtype {array.dtype}; cast them with np.asarray(lengths, dtype=np.int64)."
        )
    array = array.astype(np.int64, copy=False)
    if array.min() < 0:
        index = int(np.argmin(array))
        raise ValueError(
            f"lengths must be >= 0, but lengths[{index}] is {int(array[index])}; fix the token counts of that sample."
        )
    return array


def check_capacity(capacity: object) -> int:
    """`capacity` as an int > 0; ValueError naming the fix otherwise."""
    if isinstance(capacity, (bool, np.bool_)) or not isinstance(capacity, (int, np.integer)):
        raise ValueError(f"capacity must be an int > 0 (tokens per row), got {capacity!r}; pass e.g. capacity=4096.")
    if capacity <= 0:
        raise ValueError(f"capacity must be > 0 (tokens per row), got {capacity}; pass e.g. capacity=4096.")
    return int(capacity)


def check_overflow(overflow: object) -> str:
    """`overflow` if it is a known policy; ValueError listing them otherwise."""
    if overflow not in OVERFLOW_POLICIES:
        raise ValueError(f"unknown overflow policy {overflow!r}; choose one of: {', '.join(OVERFLOW_POLICIES)}.")
    return str(overflow)


def prepare_items(lengths: np.ndarray, capacity: int, overflow: str, *, cut_overlong: bool = True) -> Items:
    """Drop empty samples and apply the overflow policy, vectorized.

    Args:
        lengths: int64 sample lengths, already checked by `as_lengths`.
        capacity: tokens per bin.
        overflow: one of `OVERFLOW_POLICIES`.
        cut_overlong: under `overflow="split"`, cut overlong samples into
            pieces here; False leaves them whole for a strategy that splits.
    """
    n = lengths.shape[0]
    input_tokens = int(lengths.sum())
    empty = lengths == 0
    overlong = lengths > capacity
    num_empty = int(np.count_nonzero(empty))
    num_overlong = int(np.count_nonzero(overlong))
    if num_empty == 0 and num_overlong == 0:  # the common case: no copies
        return Items(lengths, np.arange(n, dtype=np.int64), None, input_tokens, 0, 0, 0)

    if overflow == "drop":
        keep = np.flatnonzero(~(empty | overlong))
        return Items(lengths[keep], keep, None, input_tokens, num_empty, num_overlong, 0)

    keep = np.flatnonzero(~empty)
    kept = lengths[keep]
    if overflow == "truncate":
        kept = np.minimum(kept, capacity)
        return Items(kept, keep, None, input_tokens, num_empty, 0, num_overlong)

    if not cut_overlong:
        return Items(kept, keep, None, input_tokens, num_empty, 0, 0)
    # split: piece k of a sample covers [k * capacity, min((k + 1) * capacity, len))
    pieces = (kept + capacity - 1) // capacity
    sample_index = np.repeat(keep, pieces)
    first_piece = np.cumsum(pieces) - pieces
    piece = np.arange(sample_index.shape[0], dtype=np.int64) - np.repeat(first_piece, pieces)
    offset = piece * capacity
    piece_lengths = np.minimum(np.repeat(kept, pieces) - offset, capacity)
    return Items(piece_lengths, sample_index, offset, input_tokens, num_empty, 0, 0)
