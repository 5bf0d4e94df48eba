"""`padding`: the baseline, one sample per bin in dataset order."""

from __future__ import annotations

import numpy as np

from axolotl_packing_bench.constants import BASELINE_STRATEGY
from axolotl_packing_bench.packing.registry import Assignment, register_strategy


@register_strategy(BASELINE_STRATEGY)
def one_per_bin(lengths: np.ndarray, capacity: int) -> Assignment:
    """One sample (or, under `overflow="split"`, one piece) per bin."""
    n = lengths.shape[0]
    return Assignment(np.arange(n + 1, dtype=np.int64), np.arange(n, dtype=np.int64))
