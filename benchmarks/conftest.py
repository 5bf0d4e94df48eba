"""Fixtures for the packing benchmarks: the ANCHORS.md 1.2M lengths."""

from __future__ import annotations

import numpy as np
import pytest
from speed_support import NUM_SAMPLES

from axolotl_packing_bench.packing import synthetic_lengths


@pytest.fixture(scope="session")
def lengths() -> np.ndarray:
    return synthetic_lengths(NUM_SAMPLES)


@pytest.fixture(scope="session")
def timings() -> dict[str, float]:
    """Min seconds per packer, measured in this run; ratios are taken from here."""
    return {}
