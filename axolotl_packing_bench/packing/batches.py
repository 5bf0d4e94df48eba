"""Tokens a trainer computes on for a plan's rows: each micro batch padded to its longest row.

Axolotl's collators (and the plugin's) pad a micro batch to its longest row,
rounded up to `pad_to_multiple_of` (Axolotl's default: 64; with
`pad_to_sequence_len`, the whole capacity). Rows come in a shuffled order
(the trainer's random sampler); a seeded numpy shuffle stands in for it,
which gives the same expected figure, not the same batches.
"""

from __future__ import annotations

import numpy as np

from axolotl_packing_bench.packing.plan import PackPlan

AXOLOTL_PAD_MULTIPLE = 64
"""Axolotl's `pad_to_multiple_of` when the config sets neither it nor `pad_to_sequence_len`."""


def row_tokens(plan: PackPlan) -> np.ndarray:
    """int64 real tokens of each row of a plan."""
    sizes = (plan.stop - plan.start).astype(np.int64)
    totals = np.zeros(plan.bin_offsets.shape[0] - 1, dtype=np.int64)
    rows = np.repeat(np.arange(totals.shape[0]), np.diff(plan.bin_offsets))
    np.add.at(totals, rows, sizes)
    return totals


def batch_padded_tokens(
    rows: np.ndarray, micro_batch_size: int, *, multiple: int | None = AXOLOTL_PAD_MULTIPLE, seed: int | None = 0
) -> int:
    """Tokens of all micro batches, each `micro_batch_size` rows padded to its longest (rounded up to `multiple`).

    `seed` None keeps the rows' order; otherwise they are shuffled with it first. The last
    micro batch may be short; it is padded like the others.
    """
    if micro_batch_size < 1:
        raise ValueError(f"micro_batch_size must be >= 1, got {micro_batch_size}.")
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size == 0:
        return 0
    if seed is not None:
        rows = rows[np.random.default_rng(seed).permutation(rows.shape[0])]
    starts = np.arange(0, rows.shape[0], micro_batch_size)
    longest = np.maximum.reduceat(rows, starts)
    if multiple:
        longest = -(-longest // multiple) * multiple
    sizes = np.diff(np.append(starts, rows.shape[0]))
    return int((longest * sizes).sum())
