"""pack() inputs, overflow policies, PackPlan, check_plan, registry, imports."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from axolotl_packing_bench.packing import (
    OVERFLOW_POLICIES,
    STRATEGIES,
    Assignment,
    PackPlan,
    check_plan,
    pack,
    register_strategy,
    synthetic_lengths,
)


class TestInputs:
    @pytest.mark.parametrize("capacity", [0, -1, 2.5, True, "4096", None])
    def test_bad_capacity(self, capacity):
        with pytest.raises(ValueError, match="capacity must be"):
            pack([1, 2], capacity)

    def test_numpy_integer_capacity(self):
        assert pack([1, 2], np.int32(4)).num_bins == 1

    def test_two_dimensional_lengths(self):
        with pytest.raises(ValueError, match="1-D"):
            pack([[1, 2], [3, 4]], 8)

    def test_negative_length_names_the_sample(self):
        with pytest.raises(ValueError, match=r"lengths\[1\] is -3"):
            pack([1, -3], 8)

    def test_float_lengths(self):
        with pytest.raises(ValueError, match="must be integers"):
            pack([1.5, 2.0], 8)

    def test_unknown_overflow_lists_policies(self):
        with pytest.raises(ValueError, match="truncate, drop, split"):
            pack([1], 8, overflow="wrap")

    def test_bad_seed(self):
        with pytest.raises(ValueError, match="seed must be an int"):
            pack([1], 8, "random", seed="0")

    @pytest.mark.parametrize("dtype", [np.int8, np.uint16, np.int32, np.uint64])
    def test_any_integer_dtype(self, dtype):
        plan = pack(np.array([3, 5, 2], dtype=dtype), 8)
        assert plan.num_bins == 2


class TestEdgeCases:
    @pytest.mark.parametrize("strategy", sorted(STRATEGIES))
    def test_empty_input(self, strategy):
        plan = pack([], 8, strategy)
        assert plan.num_bins == 0 and plan.total_tokens == 0
        assert plan.efficiency == 1.0 and plan.lower_bound == 0
        assert plan.bin_lengths().shape == (0,)
        check_plan(plan, [])

    @pytest.mark.parametrize("strategy", sorted(STRATEGIES))
    def test_all_zero_lengths(self, strategy):
        plan = pack([0, 0, 0], 8, strategy)
        assert plan.num_bins == 0 and plan.num_dropped_empty == 3
        check_plan(plan, [0, 0, 0])

    @pytest.mark.parametrize("strategy", ["bfd", "greedy", "sequential", "padding"])
    def test_one_sample(self, strategy):
        plan = pack([5], 8, strategy)
        assert plan.segments(0)[0].tolist() == [0] and plan.num_bins == 1

    @pytest.mark.parametrize("strategy", sorted(STRATEGIES))
    def test_all_equal_to_capacity(self, strategy):
        plan = pack([8] * 5, 8, strategy)
        assert plan.num_bins == 5 and plan.efficiency == 1.0
        check_plan(plan, [8] * 5)

    @pytest.mark.parametrize("capacity", [65, 129, 1025, 4097])
    @pytest.mark.parametrize("strategy", ["bfd", "greedy"])
    def test_capacity_two_to_the_k_plus_one(self, capacity, strategy):
        half_plus = capacity // 2 + 1
        # no two half_plus fit together, but each pairs with a capacity - half_plus
        lengths = [half_plus] * 7 + [capacity - half_plus] * 7
        plan = pack(lengths, capacity, strategy)
        assert plan.num_bins == 7 and plan.efficiency == 1.0
        assert pack([half_plus] * 7, capacity, strategy).num_bins == 7
        check_plan(plan, lengths)

    @pytest.mark.parametrize("strategy", ["bfd", "greedy"])
    def test_capacity_too_large_for_counting_sort(self, strategy):
        with pytest.raises(ValueError, match="use a smaller capacity"):
            pack([1, 2], 1 << 30, strategy)
        assert pack([1, 2], 1 << 30, "sequential").num_bins == 1

    def test_capacity_one(self):
        plan = pack([1, 1, 0, 1], 1, "bfd")
        assert plan.num_bins == 3


class TestOverflow:
    lengths = [10, 3, 0, 4]

    def test_truncate_keeps_first_capacity_tokens(self):
        plan = pack(self.lengths, 4, "padding", overflow="truncate")
        assert plan.segments(0)[2].tolist() == [4]
        assert (plan.num_truncated, plan.num_split, plan.num_dropped_overlong) == (1, 0, 0)
        assert plan.num_dropped_tokens == 6
        check_plan(plan, self.lengths)

    def test_drop(self):
        plan = pack(self.lengths, 4, "bfd", overflow="drop")
        assert sorted(plan.sample_index.tolist()) == [1, 3]
        assert (plan.num_dropped_overlong, plan.num_dropped_empty) == (1, 1)
        check_plan(plan, self.lengths)

    @pytest.mark.parametrize("strategy", ["bfd", "greedy", "sequential"])
    def test_split_into_capacity_pieces(self, strategy):
        plan = pack(self.lengths, 4, strategy, overflow="split")
        pieces = sorted((int(a), int(b)) for s, a, b in zip(plan.sample_index, plan.start, plan.stop) if s == 0)
        assert pieces == [(0, 4), (4, 8), (8, 10)]
        assert plan.num_split == 1 and plan.total_tokens == 17
        check_plan(plan, self.lengths)

    def test_policies_tuple(self):
        assert OVERFLOW_POLICIES == ("truncate", "drop", "split")


class TestPackPlan:
    def test_summary(self):
        plan = pack([3, 5, 2, 6], 8, "bfd")
        summary = plan.to_dict()
        assert summary["num_bins"] == 2 and summary["lower_bound"] == 2
        assert summary["efficiency"] == 1.0 and summary["over_lower_bound"] == 0.0
        assert all(not isinstance(v, np.ndarray) for v in summary.values())

    def test_arrays_are_compact_and_read_only(self):
        plan = pack([3, 5, 2, 6], 8)
        for array in (plan.bin_offsets, plan.sample_index, plan.start, plan.stop):
            assert array.dtype == np.int64 and not array.flags.writeable

    def test_segments_out_of_range(self):
        with pytest.raises(IndexError):
            pack([3], 8).segments(1)

    def test_lower_bound_and_efficiency(self):
        plan = pack([5, 5, 5], 8, "padding")
        assert plan.lower_bound == 2 and plan.efficiency == pytest.approx(15 / 24)


class TestCheckPlan:
    """check_plan must catch broken plans, not only pass good ones."""

    lengths = [3, 5, 2, 6]

    def plan(self) -> PackPlan:
        return pack(self.lengths, 8, "bfd")

    def test_good_plan_passes(self):
        self.plan().validate(self.lengths)

    def test_missing_segment(self):
        plan = self.plan()
        broken = dataclasses.replace(
            plan,
            bin_offsets=np.array([0, 2, 3]),
            sample_index=plan.sample_index[:3],
            start=plan.start[:3],
            stop=plan.stop[:3],
            total_tokens=int((plan.stop - plan.start)[:3].sum()),
        )
        with pytest.raises(AssertionError, match="missing"):
            check_plan(broken, self.lengths)

    def test_overfull_bin(self):
        broken = dataclasses.replace(self.plan(), bin_offsets=np.array([0, 4]))
        with pytest.raises(AssertionError, match="capacity"):
            check_plan(broken, self.lengths)

    def test_sample_twice(self):
        plan = pack([3, 3], 8, "padding")
        broken = dataclasses.replace(plan, sample_index=np.array([0, 0]))
        with pytest.raises(AssertionError):
            check_plan(broken, [3, 3])

    def test_wrong_lengths(self):
        with pytest.raises(AssertionError):
            check_plan(self.plan(), [3, 5, 2, 7])


class TestRegistry:
    def test_builtins(self):
        assert {"padding", "random", "greedy", "bfd", "sequential"} <= set(STRATEGIES)

    def test_unknown_strategy_lists_sorted_names(self):
        with pytest.raises(ValueError) as error:
            pack([1], 8, "best")
        assert ", ".join(sorted(STRATEGIES)) in str(error.value)

    def test_third_party_strategy_gets_options_and_sample_index(self):
        seen = {}

        @register_strategy("test_reverse")
        def reverse(lengths, capacity, *, sample_index, groups):
            seen["groups"] = groups[sample_index]
            n = lengths.shape[0]
            return Assignment(np.arange(n + 1), np.arange(n)[::-1].copy())

        try:
            plan = pack([4, 0, 6], 8, "test_reverse", groups=np.array([7, 8, 9]))
            assert seen["groups"].tolist() == [7, 9]  # the empty sample was dropped
            assert plan.sample_index.tolist() == [2, 0]
            check_plan(plan, [4, 0, 6])
        finally:
            STRATEGIES.pop("test_reverse")

    def test_unknown_option_raises_type_error(self):
        with pytest.raises(TypeError, match="'bfd' got unknown option"):
            pack([1], 8, "bfd", groups=[1])
        with pytest.raises(TypeError, match="it takes: keep_remainder"):
            pack([1], 8, "random", keep_reminder=True)

    def test_starts_without_stops_is_rejected(self):
        @register_strategy("test_half")
        def half(lengths, capacity):
            return Assignment(np.array([0, 1]), np.array([0]), starts=np.array([0]))

        try:
            with pytest.raises(ValueError, match="starts without stops"):
                pack([3], 8, "test_half")
        finally:
            STRATEGIES.pop("test_half")

    def test_duplicate_registration(self):
        with pytest.raises(ValueError, match="already registered"):
            register_strategy("bfd")(lambda lengths, capacity: None)

    def test_replace(self):
        original = STRATEGIES["padding"]
        try:
            register_strategy("padding", replace=True)(original)
        finally:
            STRATEGIES["padding"] = original


def test_imports_without_torch_or_axolotl():
    code = (
        "import sys\n"
        "for name in ('torch', 'axolotl', 'transformers'):\n"
        "    sys.modules[name] = None\n"
        "from axolotl_packing_bench.packing import pack\n"
        "print(pack([3, 5, 2, 6], 8).num_bins)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2"


def test_synthetic_lengths_match_anchors():
    lengths = synthetic_lengths(1_200_000)
    assert lengths.dtype == np.int64 and lengths.min() >= 16 and lengths.max() <= 4096
    assert int(lengths.sum()) == 1_046_109_587
    assert synthetic_lengths(5, seed=1).tolist() == synthetic_lengths(5, seed=1).tolist()


def test_package_docstring_example():
    import doctest

    import axolotl_packing_bench.packing as packing

    assert doctest.testmod(packing).failed == 0
