"""Packing: pure functions from sample lengths to a `PackPlan`.

Needs only numpy and numba (no torch, no Axolotl)::

    >>> from axolotl_packing_bench.packing import pack
    >>> plan = pack([3, 5, 2, 6], capacity=8, strategy="bfd")
    >>> plan.num_bins, plan.efficiency
    (2, 1.0)
    >>> sample_index, start, stop = plan.segments(0)
    >>> sample_index.tolist(), stop.tolist()  # samples 3 and 2, whole
    ([3, 2], [6, 2])

Strategies live in `packing/strategies/`, one module each, and register
themselves in `STRATEGIES`; add your own with `register_strategy`.
"""

from __future__ import annotations

from axolotl_packing_bench.packing import strategies as _strategies  # noqa: F401
from axolotl_packing_bench.packing.api import pack
from axolotl_packing_bench.packing.overflow import OVERFLOW_POLICIES
from axolotl_packing_bench.packing.plan import PackPlan, check_plan
from axolotl_packing_bench.packing.registry import (
    STRATEGIES,
    Assignment,
    register_strategy,
)
from axolotl_packing_bench.packing.synthetic import synthetic_lengths

__all__ = [
    "OVERFLOW_POLICIES",
    "STRATEGIES",
    "Assignment",
    "PackPlan",
    "check_plan",
    "pack",
    "register_strategy",
    "synthetic_lengths",
]
