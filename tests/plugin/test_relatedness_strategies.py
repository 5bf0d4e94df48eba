"""Exact plans for `related`, `unrelated` and `single_turn` on hand-written groups."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from axolotl_packing_bench.packing import (
    OVERFLOW_POLICIES,
    STRATEGIES,
    check_plan,
    pack,
)

A, B, C = "A", "B", "C"


def samples(plan) -> list[list[int]]:
    return [plan.segments(b)[0].tolist() for b in range(plan.num_bins)]


def test_registered():
    assert {"related", "unrelated", "single_turn"} <= set(STRATEGIES)


class TestRelated:
    def test_within_groups_first_then_leftovers_across(self):
        # group A: 6, 5, 2 -> bfd bins [6 2] (fill 8) and [5]; group B: 4, 3 -> [4 3] (fill 7).
        # min_fill 0.8 keeps [6 2]; the loose [5] and [4 3] are packed across groups: [5 4] [3].
        plan = pack([6, 4, 5, 3, 2], 10, "related", groups=[A, B, A, B, A], min_fill=0.8)
        assert samples(plan) == [[0, 4], [2, 1], [3]]

    def test_default_keeps_efficiency_of_bfd(self):
        # Keeping any single-group bin costs a row here, so every sample is pooled:
        # bfd gives [6 4] [5 3 2], then each row's samples are gathered by group: [5A 2A 3B].
        plan = pack([6, 4, 5, 3, 2], 10, "related", groups=[A, B, A, B, A])
        assert samples(plan) == [[0, 1], [2, 4, 3]]
        assert plan.num_bins == pack([6, 4, 5, 3, 2], 10, "bfd").num_bins

    def test_full_groups_stay_together(self):
        plan = pack([5, 5, 5, 5], 10, "related", groups=[A, B, A, B])
        assert samples(plan) == [[0, 2], [1, 3]]
        assert samples(pack([5, 5, 5, 5], 10, "bfd")) == [[0, 1], [2, 3]]

    def test_integer_groups_and_split_pieces_keep_their_group(self):
        # sample 0 is split into 3 pieces under overflow=split; all of them are group 7
        plan = pack([12, 2, 3], 5, "related", overflow="split", groups=[7, 9, 7])
        check_plan(plan, [12, 2, 3])
        rows = [list(zip(*plan.segments(b))) for b in range(plan.num_bins)]
        assert sum(len(r) for r in rows) == 5

    def test_no_groups_is_bfd_with_a_warning(self):
        with pytest.warns(UserWarning, match="every sample is one group"):
            plan = pack([6, 4, 5, 3, 2], 10, "related")
        assert samples(plan) == samples(pack([6, 4, 5, 3, 2], 10, "bfd"))

    def test_bad_min_fill(self):
        with pytest.raises(ValueError, match="min_fill"):
            pack([1, 2], 4, "related", groups=[0, 1], min_fill=1.5)

    def test_too_few_labels(self):
        with pytest.raises(ValueError, match="one label per sample"):
            pack([1, 2, 3], 4, "related", groups=[0, 1])

    def test_unknown_option_lists_accepted_ones(self):
        with pytest.raises(TypeError, match="groups, min_fill, max_efficiency_loss"):
            pack([1, 2], 4, "related", group=[0, 1])


class TestUnrelated:
    def test_equal_lengths_are_dealt_out_across_groups(self):
        # bfd: [3 2] [3 2] holding A A and B B; swapping the equal-length 2s mixes both rows.
        lengths, groups = [3, 3, 2, 2], [A, B, B, A]
        assert samples(pack(lengths, 5, "bfd")) == [[0, 3], [1, 2]]
        plan = pack(lengths, 5, "unrelated", groups=groups)
        assert samples(plan) == [[0, 2], [1, 3]]
        assert plan.num_bins == 2 and plan.efficiency == 1.0

    def test_no_two_neighbours_share_a_group_where_avoidable(self):
        plan = pack([5, 4, 3, 2, 1], 15, "unrelated", groups=[A, A, A, B, B])
        assert samples(plan) == [[0, 3, 1, 4, 2]]  # A B A B A

    def test_unavoidable_neighbours(self):
        plan = pack([5, 4, 3, 2], 15, "unrelated", groups=[A, A, A, B])
        assert samples(plan) == [[0, 3, 1, 2]]  # A B A A: three As cannot all be apart

    def test_same_bins_as_bfd(self):
        rng = np.random.default_rng(3)
        lengths = rng.integers(1, 300, size=500)
        groups = rng.integers(0, 5, size=500)
        plan, reference = pack(lengths, 512, "unrelated", groups=groups), pack(lengths, 512, "bfd")
        assert np.array_equal(plan.bin_lengths(), reference.bin_lengths())

    def test_no_groups_is_bfd(self):
        with pytest.warns(UserWarning):
            plan = pack([6, 4, 5, 3, 2], 10, "unrelated")
        assert samples(plan) == samples(pack([6, 4, 5, 3, 2], 10, "bfd"))


class TestSingleTurn:
    def test_packs_single_turn_and_leaves_multi_turn_alone(self):
        # single-turn: 0 (3), 2 (1), 3 (1), 5 (6) -> bfd [6] [3 1 1]; then 1 and 4 alone
        plan = pack([3, 5, 1, 1, 2, 6], 6, "single_turn", turns=[1, 2, 1, 1, 3, 1])
        assert samples(plan) == [[5], [0, 2, 3], [1], [4]]

    def test_multi_turn_flags(self):
        plan = pack([3, 5, 1, 1, 2, 6], 6, "single_turn", multi_turn=[False, True, False, False, True, False])
        assert samples(plan) == [[5], [0, 2, 3], [1], [4]]

    def test_all_single_turn_is_bfd(self):
        plan = pack([6, 4, 5, 3, 2], 10, "single_turn", turns=[1] * 5)
        assert samples(plan) == samples(pack([6, 4, 5, 3, 2], 10, "bfd"))

    def test_split_pieces_of_a_multi_turn_sample_are_each_alone(self):
        plan = pack([9, 1], 4, "single_turn", overflow="split", turns=[2, 1])
        assert samples(plan) == [[1], [0], [0], [0]]
        check_plan(plan, [9, 1])

    def test_both_options_rejected(self):
        with pytest.raises(TypeError, match="not both"):
            pack([1], 4, "single_turn", turns=[1], multi_turn=[False])


# deadline=None: the first call may load numba's compiled cache
@settings(max_examples=120, deadline=None)
@given(
    data=st.lists(st.tuples(st.integers(0, 80), st.integers(0, 3), st.integers(1, 4)), max_size=50),
    capacity=st.sampled_from([1, 7, 16, 33, 64, 65]),
    strategy=st.sampled_from(["related", "unrelated", "single_turn"]),
    overflow=st.sampled_from(OVERFLOW_POLICIES),
)
def test_every_plan_is_valid(data, capacity, strategy, overflow):
    lengths = [d[0] for d in data]
    option = {"turns": [d[2] for d in data]} if strategy == "single_turn" else {"groups": [d[1] for d in data]}
    plan = pack(lengths, capacity, strategy, overflow=overflow, **option)
    check_plan(plan, lengths)
    assert plan.num_bins >= plan.lower_bound
    if strategy == "unrelated":
        assert plan.num_bins == pack(lengths, capacity, "bfd", overflow=overflow).num_bins
