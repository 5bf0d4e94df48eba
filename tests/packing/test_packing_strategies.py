"""Exact plans for each built-in strategy on a few hand-written lengths."""

from __future__ import annotations

import numpy as np
import pytest

from axolotl_packing_bench.packing import check_plan, pack


def bins(plan) -> list[list[tuple[int, int, int]]]:
    """The plan as [[(sample, start, stop), ...] per bin]."""
    return [[tuple(int(v) for v in seg) for seg in zip(*plan.segments(b))] for b in range(plan.num_bins)]


def samples(plan) -> list[list[int]]:
    return [[seg[0] for seg in row] for row in bins(plan)]


class TestPadding:
    def test_one_sample_per_bin_in_dataset_order(self):
        plan = pack([3, 5, 2], 8, "padding")
        assert bins(plan) == [[(0, 0, 3)], [(1, 0, 5)], [(2, 0, 2)]]
        assert plan.efficiency == pytest.approx(10 / 24)

    def test_empty_sample_dropped(self):
        plan = pack([3, 0, 2], 8, "padding")
        assert samples(plan) == [[0], [2]]
        assert plan.num_dropped_empty == 1

    def test_split_overlong_gives_one_piece_per_bin(self):
        plan = pack([10, 2], 4, "padding", overflow="split")
        assert bins(plan) == [[(0, 0, 4)], [(0, 4, 8)], [(0, 8, 10)], [(1, 0, 2)]]
        assert plan.num_split == 1


class TestSequential:
    def test_next_fit_in_dataset_order(self):
        plan = pack([3, 4, 2, 6], 8, "sequential")
        assert samples(plan) == [[0, 1], [2, 3]]

    def test_never_goes_back_to_an_earlier_bin(self):
        # 1 would fit in bin 0, but next-fit only looks at the current bin.
        plan = pack([6, 5, 1], 8, "sequential")
        assert samples(plan) == [[0], [1, 2]]

    def test_exact_fill_opens_next_bin(self):
        plan = pack([4, 4, 4], 8, "sequential")
        assert samples(plan) == [[0, 1], [2]]


class TestGreedy:
    def test_first_fit_decreasing(self):
        # 8 -> bin 0 (2 free), 5 -> bin 1 (5 free), 4 -> bin 1, 1 -> FIRST bin: 0
        plan = pack([1, 8, 5, 4], 10, "greedy")
        assert samples(plan) == [[1, 0], [2, 3]]

    def test_ties_keep_dataset_order(self):
        plan = pack([2, 3, 3, 2], 5, "greedy")
        assert samples(plan) == [[1, 0], [2, 3]]

    def test_never_splits(self):
        plan = pack([6, 6, 6], 10, "greedy")
        assert bins(plan) == [[(0, 0, 6)], [(1, 0, 6)], [(2, 0, 6)]]
        assert plan.num_split == 0


class TestBestFitDecreasing:
    def test_tightest_bin(self):
        # same input as greedy, but 1 goes to the TIGHTEST bin: bin 1 (1 free)
        plan = pack([1, 8, 5, 4], 10, "bfd")
        assert samples(plan) == [[1], [2, 3, 0]]

    def test_default_strategy_is_bfd(self):
        assert pack([1, 8, 5, 4], 10).strategy == "bfd"

    def test_free_space_on_a_bitset_word_boundary(self):
        # capacity 129: a 65 leaves 64 free (bit 64 = word 1, bit 0)
        plan = pack([65, 64, 100, 29], 129, "bfd")
        assert samples(plan) == [[2, 3], [0, 1]]
        assert plan.bin_lengths().tolist() == [129, 129]


class TestRandom:
    def test_one_sample_is_cut_every_capacity(self):
        plan = pack([10], 4, "random", overflow="split", keep_remainder=True)
        assert bins(plan) == [[(0, 0, 4)], [(0, 4, 8)], [(0, 8, 10)]]
        assert plan.num_split == 1

    def test_short_remainder_dropped_by_default(self):
        plan = pack([10], 4, "random", overflow="split")
        assert bins(plan) == [[(0, 0, 4)], [(0, 4, 8)]]
        assert plan.num_remainder_tokens == 2
        assert plan.num_dropped_tokens == 2
        assert plan.efficiency == 1.0

    def test_concatenates_in_seeded_shuffled_order(self):
        order = np.random.default_rng(7).permutation(3).tolist()
        lengths = [3, 5, 2]
        plan = pack(lengths, 4, "random", seed=7, overflow="split", keep_remainder=True)
        stream = [(i, t) for i in order for t in range(lengths[i])]  # token stream
        rows = [stream[k : k + 4] for k in range(0, len(stream), 4)]
        expected = [
            [
                (i, min(t for j, t in row if j == i), max(t for j, t in row if j == i) + 1)
                for i in dict.fromkeys(j for j, _ in row)
            ]
            for row in rows
        ]
        assert bins(plan) == expected
        check_plan(plan, lengths)

    def test_overlong_truncated_by_default_then_cut(self):
        plan = pack([6, 2], 4, "random", keep_remainder=True)
        assert plan.num_truncated == 1
        assert plan.total_tokens == 6
        check_plan(plan, [6, 2])
