"""`related` and `unrelated` cost (almost) nothing in rows, and do what they say."""

from __future__ import annotations

import numpy as np
import pytest

from axolotl_packing_bench.packing import check_plan, pack, synthetic_lengths
from axolotl_packing_bench.plugin.relatedness import relatedness_report


@pytest.mark.parametrize("capacity", [512, 4096])
@pytest.mark.parametrize("num_groups", [4, 24, 200])
def test_within_one_percent_of_bfd(capacity, num_groups):
    rng = np.random.default_rng(num_groups)
    lengths = np.minimum(synthetic_lengths(3000, seed=num_groups), capacity)
    groups = rng.integers(0, num_groups, size=lengths.shape[0])
    reference = pack(lengths, capacity, "bfd")
    related = pack(lengths, capacity, "related", groups=groups)
    unrelated = pack(lengths, capacity, "unrelated", groups=groups)
    for plan in (related, unrelated):
        check_plan(plan, lengths)
        assert plan.efficiency >= reference.efficiency * 0.99
    assert unrelated.num_bins == reference.num_bins

    base = relatedness_report(reference, groups)
    near = relatedness_report(related, groups)
    apart = relatedness_report(unrelated, groups)
    # related rows hold far more same-group neighbours than chance; unrelated ones fewer than bfd's
    assert near["same_group_adjacent"] > 2 * base["chance_same_group"]
    assert near["same_group_adjacent"] > base["same_group_adjacent"]
    assert apart["same_group_adjacent"] <= base["same_group_adjacent"]
    assert apart["mean_groups_per_row"] >= base["mean_groups_per_row"]


def test_stricter_efficiency_loss_gives_fewer_rows():
    lengths = np.minimum(synthetic_lengths(2000, seed=5), 512)
    groups = np.random.default_rng(5).integers(0, 24, size=lengths.shape[0])
    loose = pack(lengths, 512, "related", groups=groups, max_efficiency_loss=0.05)
    strict = pack(lengths, 512, "related", groups=groups, max_efficiency_loss=0.0)
    assert strict.num_bins == pack(lengths, 512, "bfd").num_bins
    assert loose.num_bins >= strict.num_bins
    report = (relatedness_report(loose, groups), relatedness_report(strict, groups))
    assert report[0]["same_group_adjacent"] >= report[1]["same_group_adjacent"]
