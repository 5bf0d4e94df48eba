"""`pack`: sample lengths in, `PackPlan` out."""

from __future__ import annotations

import numpy as np

from axolotl_packing_bench.packing._kernels import item_segments_to_samples
from axolotl_packing_bench.packing.overflow import (
    Items,
    as_lengths,
    check_capacity,
    check_overflow,
    prepare_items,
)
from axolotl_packing_bench.packing.plan import PackPlan
from axolotl_packing_bench.packing.registry import (
    Assignment,
    get_strategy,
    strategy_kwargs,
)


def pack(
    lengths: object,
    capacity: int,
    strategy: str = "bfd",
    *,
    seed: int = 0,
    overflow: str = "truncate",
    **options: object,
) -> PackPlan:
    """Plan packed rows of `capacity` tokens for samples of the given lengths.

    Zero-length samples are dropped (counted in `num_dropped_empty`). Samples
    longer than `capacity` follow `overflow`: "truncate" keeps their first
    `capacity` tokens, "drop" leaves them out, "split" cuts them into
    capacity-sized pieces, each its own segment.

    Args:
        lengths: 1-D integer array-like, tokens per sample.
        capacity: tokens per packed row, > 0.
        strategy: a name in `STRATEGIES`: "bfd", "greedy", "random",
            "sequential", "padding", or one registered by you.
        seed: seed for strategies that shuffle; same seed, same plan.
        overflow: one of `OVERFLOW_POLICIES`.
        **options: strategy options, e.g. `keep_remainder=True` for "random".

    Returns:
        The plan, with per-segment arrays and summary counts.

    Raises:
        ValueError: bad lengths, capacity, seed, overflow or strategy name.
        TypeError: an option the strategy does not take.
    """
    capacity = check_capacity(capacity)
    lengths = as_lengths(lengths)
    overflow = check_overflow(overflow)
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an int, got {seed!r}; pass e.g. seed=0.")
    fn = get_strategy(strategy)
    splits_samples = bool(getattr(fn, "splits_samples", False))
    items = prepare_items(lengths, capacity, overflow, cut_overlong=not splits_samples)
    kwargs = strategy_kwargs(strategy, fn, options, seed=int(seed), sample_index=items.sample_index)
    assignment = fn(items.lengths, capacity, **kwargs)
    return _build_plan(assignment, items, lengths.shape[0], capacity, strategy, overflow, int(seed))


def _build_plan(
    assignment: Assignment,
    items: Items,
    num_samples: int,
    capacity: int,
    strategy: str,
    overflow: str,
    seed: int,
) -> PackPlan:
    """Map the strategy's item-level bins back to sample token ranges."""
    if (assignment.starts is None) != (assignment.stops is None):
        raise ValueError(
            f"packing strategy {strategy!r} returned starts without stops or the "
            "reverse; give both, or neither for whole items."
        )
    none = np.zeros(0, dtype=np.int64)
    sample_index, start, stop = item_segments_to_samples(
        np.asarray(assignment.items, dtype=np.int64),
        items.sample_index,
        none if items.offset is None else items.offset,
        items.lengths,
        none if assignment.starts is None else np.asarray(assignment.starts, dtype=np.int64),
        none if assignment.stops is None else np.asarray(assignment.stops, dtype=np.int64),
    )
    may_split = assignment.starts is not None or items.offset is not None
    num_split = 0
    if may_split and sample_index.shape[0]:
        num_split = int(np.count_nonzero(np.bincount(sample_index) > 1))
    arrays = [np.asarray(assignment.bin_offsets, dtype=np.int64), sample_index, start, stop]
    for array in arrays:
        array.setflags(write=False)
    return PackPlan(
        *arrays,
        capacity=capacity,
        strategy=strategy,
        overflow=overflow,
        seed=seed,
        num_samples=num_samples,
        input_tokens=items.input_tokens,
        total_tokens=int(items.lengths.sum()) - int(assignment.dropped_tokens),
        num_truncated=items.num_truncated,
        num_split=num_split,
        num_dropped_empty=items.num_dropped_empty,
        num_dropped_overlong=items.num_dropped_overlong,
        num_remainder_tokens=int(assignment.dropped_tokens),
    )
