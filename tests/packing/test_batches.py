"""The trainer's padded tokens: micro batches padded to their longest row, rounded up."""

from __future__ import annotations

import numpy as np
import pytest

from axolotl_packing_bench.packing import pack
from axolotl_packing_bench.packing.batches import batch_padded_tokens, row_tokens


def test_each_micro_batch_is_padded_to_its_longest_row():
    rows = np.array([10, 100, 20, 30, 7])
    # [10, 100] -> 2 x 100; [20, 30] -> 2 x 30; [7] -> 7
    assert batch_padded_tokens(rows, 2, multiple=None, seed=None) == 200 + 60 + 7
    # rounded up to 64: 2 x 128 + 2 x 64 + 64
    assert batch_padded_tokens(rows, 2, multiple=64, seed=None) == 256 + 128 + 64
    assert batch_padded_tokens(rows, 1, multiple=None, seed=None) == int(rows.sum())
    assert batch_padded_tokens(rows, 5, multiple=None, seed=None) == 500


def test_shuffled_order_is_seeded_and_keeps_every_row():
    rows = np.arange(1, 101)
    first = batch_padded_tokens(rows, 4, multiple=None, seed=3)
    assert first == batch_padded_tokens(rows, 4, multiple=None, seed=3)
    assert rows.sum() < first <= 100 * 100
    with pytest.raises(ValueError, match="micro_batch_size"):
        batch_padded_tokens(rows, 0)


def test_row_tokens_of_a_plan():
    lengths = np.array([5, 3, 4, 8, 1])
    plan = pack(lengths, 10, "bfd")
    tokens = row_tokens(plan)
    assert tokens.sum() == lengths.sum() and tokens.shape[0] == plan.num_bins and tokens.max() <= 10
