"""`single_turn`: the paper's variant that packs single-turn samples only.

Single-turn samples (one user/assistant exchange) are packed with best-fit
decreasing; multi-turn samples stay unpacked, one per row, as with padding:

    turns:    1  3  1  1  2            capacity 10, lengths 4 5 3 6 7
    rows:     [s3 s0] [s2] [s1] [s4]   single-turn packed (bfd), then one row
                                       per multi-turn sample, in dataset order

The paper found that packing only single-turn data can hurt few-shot
ability; this strategy lets a matrix measure that next to `bfd`.
"""

from __future__ import annotations

import numpy as np

from axolotl_packing_bench.packing.registry import Assignment, register_strategy
from axolotl_packing_bench.packing.strategies.bfd import best_fit_decreasing


def _multi_turn_items(turns: object, multi_turn: object, sample_index: np.ndarray) -> np.ndarray:
    if turns is not None and multi_turn is not None:
        raise TypeError("packing strategy 'single_turn' takes turns= or multi_turn=, not both; pass one.")
    given, name = (turns, "turns") if turns is not None else (multi_turn, "multi_turn")
    if given is None:
        return np.zeros(sample_index.shape[0], dtype=bool)
    values = np.asarray(given)
    if values.ndim != 1:
        raise ValueError(
            f"{name}= of strategy 'single_turn' must be 1-D, one value per sample; got shape {values.shape}."
        )
    needed = int(sample_index.max()) + 1 if sample_index.shape[0] else 0
    if values.shape[0] < needed:
        raise ValueError(
            f"{name}= of strategy 'single_turn' has {values.shape[0]} values but sample {needed - 1} needs one; "
            "pass one value per sample, in the order of the lengths."
        )
    values = values[sample_index]
    return values.astype(bool) if name == "multi_turn" else values > 1


@register_strategy("single_turn")
def single_turn(
    lengths: np.ndarray,
    capacity: int,
    *,
    sample_index: np.ndarray,
    turns: object = None,
    multi_turn: object = None,
) -> Assignment:
    """Best-fit decreasing over single-turn samples; each multi-turn sample alone.

    Args:
        lengths: item lengths, each in [1, capacity].
        capacity: tokens per bin.
        sample_index: input sample of each item (passed by `pack`).
        turns: user/assistant exchanges per input sample; more than 1 is
            multi-turn.
        multi_turn: or, a truth value per input sample. With neither, every
            sample counts as single-turn (the plan is `bfd`'s).
    """
    multi = _multi_turn_items(turns, multi_turn, sample_index)
    single = np.flatnonzero(~multi)
    alone = np.flatnonzero(multi)
    plan = best_fit_decreasing(lengths[single], capacity)
    offsets = np.concatenate([plan.bin_offsets, plan.bin_offsets[-1] + 1 + np.arange(alone.shape[0], dtype=np.int64)])
    items = np.concatenate([single[plan.items], alone]).astype(np.int64)
    return Assignment(offsets.astype(np.int64), items)
