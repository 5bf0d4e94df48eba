"""`related`: pack samples of the same group (topic) together.

Two passes, both best-fit decreasing (`bfd`):

1. Within each group: the group's samples are packed on their own. Every
   bin filled to at least `min_fill` of capacity is kept: it holds one group
   only.
2. Leftovers across groups: the samples of the bins that were not full enough
   (a group's last, loose bins) are pooled and packed together; inside each
   of those bins, samples of one group are put next to each other.

    groups:   A A A A B B B C            capacity 10, min_fill 0.9
    pass 1:   [A5 A4] [A3 A3]  [B6 B3] [B2]  [C4]
              kept    loose    kept    loose loose
    pass 2:   [A3 A3 B2] [C4]  ...pooled loose samples, bfd, grouped

`min_fill` trades relatedness for rows: 1.0 keeps only perfectly full group
bins; lower keeps more single-group bins but leaves more slack in them. By
default the lowest `min_fill` of `MIN_FILL_LADDER` whose plan needs at most
`max_efficiency_loss` (1%) more rows than `bfd` is used; if none does, `bfd`'s
own bins are used with each bin's samples gathered by group. Samples are never
split (under `overflow="split"` each piece is its own item).
"""

from __future__ import annotations

import numpy as np

from axolotl_packing_bench.packing.groups import gather_groups_in_bins, item_groups
from axolotl_packing_bench.packing.registry import Assignment, register_strategy
from axolotl_packing_bench.packing.strategies.bfd import best_fit_decreasing

MIN_FILL_LADDER = (0.9, 0.95, 0.98, 0.99, 0.995, 1.0)
"""`min_fill` values tried in turn when none is given: most related first."""


def _concat_bins(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """CSR bins from a list of (bin_offsets, items) pieces with global item indices."""
    if not parts:
        return np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    sizes = np.concatenate([np.diff(offsets) for offsets, _ in parts])
    offsets = np.zeros(sizes.shape[0] + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    return offsets, np.concatenate([items for _, items in parts])


def _pack_by_group(
    lengths: np.ndarray, capacity: int, codes: np.ndarray, min_fill: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pass 1 (bfd within groups, keep bins filled to `min_fill`) and pass 2 (the rest, across groups)."""
    order = np.argsort(codes, kind="stable")  # items of each group, in item order
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    threshold = min_fill * capacity
    kept: list[tuple[np.ndarray, np.ndarray]] = []
    loose: list[np.ndarray] = []
    for members in np.split(order, bounds):
        plan = best_fit_decreasing(lengths[members], capacity)
        items = members[plan.items]  # back to global item indices
        fill = np.add.reduceat(lengths[items], plan.bin_offsets[:-1])
        full = fill >= threshold
        sizes = np.diff(plan.bin_offsets)
        in_full = np.repeat(full, sizes)
        if full.any():
            offsets = np.zeros(int(full.sum()) + 1, dtype=np.int64)
            np.cumsum(sizes[full], out=offsets[1:])
            kept.append((offsets, items[in_full]))
        if not full.all():
            loose.append(items[~in_full])
    if loose:
        pool = np.concatenate(loose)
        plan = best_fit_decreasing(lengths[pool], capacity)
        kept.append((plan.bin_offsets, gather_groups_in_bins(plan.bin_offsets, pool[plan.items], codes)))
    return _concat_bins(kept)


@register_strategy("related")
def related(
    lengths: np.ndarray,
    capacity: int,
    *,
    sample_index: np.ndarray,
    groups: object = None,
    min_fill: float | None = None,
    max_efficiency_loss: float = 0.01,
) -> Assignment:
    """Best-fit decreasing within each group, then the loose leftovers across groups.

    Args:
        lengths: item lengths, each in [1, capacity].
        capacity: tokens per bin.
        sample_index: input sample of each item (passed by `pack`).
        groups: one group label per input sample (topic, cluster id...); None
            puts every sample in one group, which packs exactly like `bfd`.
        min_fill: a group's bin is kept when it holds at least this share of
            capacity; the samples of the others are packed across groups.
            None: the most related plan within `max_efficiency_loss` of bfd.
        max_efficiency_loss: when `min_fill` is None, the largest relative
            drop in efficiency against `bfd` accepted (0.01 = 1%).
    """
    if min_fill is not None and not 0.0 <= float(min_fill) <= 1.0:
        raise ValueError(f"min_fill of strategy 'related' must be in [0, 1], got {min_fill!r}; e.g. min_fill=0.99.")
    if not 0.0 <= float(max_efficiency_loss) < 1.0:
        raise ValueError(
            f"max_efficiency_loss of strategy 'related' must be in [0, 1), got {max_efficiency_loss!r}; e.g. 0.01."
        )
    codes = item_groups(groups, sample_index, strategy="related")
    if lengths.shape[0] == 0:
        return Assignment(np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64))
    if not codes.any():  # one group: nothing to gather, bfd's plan as is
        return best_fit_decreasing(lengths, capacity)
    if min_fill is not None:
        return Assignment(*_pack_by_group(lengths, capacity, codes, float(min_fill)))
    reference = best_fit_decreasing(lengths, capacity)
    # efficiency >= bfd's * (1 - loss)  <=>  bins <= bfd's bins / (1 - loss)
    most_bins = (reference.bin_offsets.shape[0] - 1) / (1.0 - float(max_efficiency_loss))
    for candidate in MIN_FILL_LADDER:
        offsets, items = _pack_by_group(lengths, capacity, codes, candidate)
        if offsets.shape[0] - 1 <= most_bins + 1e-9:
            return Assignment(offsets, items)
    offsets = reference.bin_offsets
    return Assignment(offsets, gather_groups_in_bins(offsets, reference.items, codes))
