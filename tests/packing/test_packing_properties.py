"""Invariants on random inputs, and agreement with slow reference packers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packing_reference import best_fit_decreasing, first_fit_decreasing, next_fit

from axolotl_packing_bench.packing import OVERFLOW_POLICIES, check_plan, pack

# deadline=None: the first call may load numba's compiled cache
FAST = settings(max_examples=150, deadline=None)

capacities = st.one_of(st.integers(1, 300), st.sampled_from([63, 64, 65, 127, 128, 129, 1025, 4097]))


@st.composite
def lengths_and_capacity(draw, allow_overlong=True):
    capacity = draw(capacities)
    top = 2 * capacity if allow_overlong else capacity
    lengths = draw(st.lists(st.integers(0, top), max_size=60))
    return lengths, capacity


def samples(plan) -> list[list[int]]:
    return [plan.segments(b)[0].tolist() for b in range(plan.num_bins)]


@FAST
@given(
    case=lengths_and_capacity(),
    strategy=st.sampled_from(["bfd", "greedy", "sequential", "padding", "random"]),
    overflow=st.sampled_from(OVERFLOW_POLICIES),
    keep_remainder=st.booleans(),
)
def test_every_plan_is_valid(case, strategy, overflow, keep_remainder):
    lengths, capacity = case
    options = {"keep_remainder": keep_remainder} if strategy == "random" else {}
    plan = pack(lengths, capacity, strategy, overflow=overflow, **options)
    check_plan(plan, lengths)  # coverage exactly once, capacity, counts
    assert plan.num_bins >= plan.lower_bound
    if strategy == "random":  # every row full, but the kept remainder
        loads = plan.bin_lengths()
        full = loads[:-1] if keep_remainder else loads
        assert np.all(full == capacity)


@FAST
@given(case=lengths_and_capacity(), seed=st.integers(0, 2**32 - 1))
def test_deterministic_for_a_seed(case, seed):
    lengths, capacity = case
    for strategy in ("random", "bfd"):
        one = pack(lengths, capacity, strategy, seed=seed, overflow="split")
        two = pack(lengths, capacity, strategy, seed=seed, overflow="split")
        for field in ("bin_offsets", "sample_index", "start", "stop"):
            assert np.array_equal(getattr(one, field), getattr(two, field))


@FAST
@given(case=lengths_and_capacity(allow_overlong=False))
def test_any_fit_bins_cannot_be_merged(case):
    lengths, capacity = case
    for strategy in ("bfd", "greedy"):
        loads = np.sort(pack(lengths, capacity, strategy).bin_lengths())
        if loads.shape[0] >= 2:  # the two emptiest bins do not fit in one
            assert loads[0] + loads[1] > capacity


@FAST
@given(case=lengths_and_capacity(allow_overlong=False))
def test_matches_reference_packers(case):
    lengths, capacity = case
    assert samples(pack(lengths, capacity, "greedy")) == first_fit_decreasing(lengths, capacity)
    assert samples(pack(lengths, capacity, "sequential")) == next_fit(lengths, capacity)
    assert pack(lengths, capacity, "bfd").num_bins == len(best_fit_decreasing(lengths, capacity))


def _distribution(name: str, rng: np.random.Generator, n: int, capacity: int) -> np.ndarray:
    if name == "uniform":
        return rng.integers(1, capacity + 1, n)
    if name == "bimodal":
        return np.where(
            rng.random(n) < 0.5,
            rng.integers(1, capacity // 8, n),
            rng.integers(capacity // 2, capacity + 1, n),
        )
    if name == "tiny":
        return rng.integers(1, 4, n)
    if name == "near_capacity":
        return rng.integers(capacity - capacity // 10, capacity + 1, n)
    if name == "half_plus_one":
        return np.full(n, capacity // 2 + 1) - rng.integers(0, 2, n)
    return np.clip(rng.lognormal(np.log(capacity) - 2, 0.9, n), 1, capacity).astype(int)


@pytest.mark.parametrize("distribution", ["uniform", "bimodal", "tiny", "near_capacity", "half_plus_one", "lognormal"])
@pytest.mark.parametrize("capacity", [64, 65, 100, 129, 1025])
def test_distributions_against_reference(distribution, capacity):
    rng = np.random.default_rng(capacity)
    for _ in range(3):
        lengths = _distribution(distribution, rng, 300, capacity).tolist()
        greedy = pack(lengths, capacity, "greedy")
        bfd = pack(lengths, capacity, "bfd")
        assert samples(greedy) == first_fit_decreasing(lengths, capacity)
        assert bfd.num_bins == len(best_fit_decreasing(lengths, capacity))
        check_plan(bfd, lengths)


@pytest.mark.parametrize("strategy", ["bfd", "greedy", "random", "sequential", "padding"])
def test_huge_input(strategy):
    rng = np.random.default_rng(1)
    lengths = np.clip(rng.lognormal(6.4, 0.9, 200_000), 0, 5000).astype(np.int64)
    lengths[:10] = 0
    plan = pack(lengths, 4096, strategy, overflow="split")
    check_plan(plan, lengths)
    if strategy in ("bfd", "greedy"):
        assert plan.num_bins <= plan.lower_bound * 1.001
