"""One rule for a run's padding baseline: same set-up, own attention first, then the default one."""

from __future__ import annotations

from types import SimpleNamespace

from axolotl_packing_bench.results.baseline import baseline_finder, pairing_key, setup_key


def run(strategy: str, attention: str = "isolated", seed: str | None = None, repeat: int = 0, **extra: str):
    axes = {"model": "m", "dataset": "d", "strategy": strategy, "attention": attention, **extra}
    if seed is not None:
        axes["seed"] = seed
    return SimpleNamespace(
        axes=axes, cell_id=f"{strategy}-{attention}-{seed}", repeat=repeat, name=f"{strategy}/{attention}/{seed}"
    )


def test_own_attention_first_then_the_default_then_any():
    pad_i, pad_s, bfd_s, bfd_i = run("padding"), run("padding", "shared"), run("bfd", "shared"), run("bfd")
    find = baseline_finder([pad_i, pad_s, bfd_s, bfd_i], lambda r: r.axes)
    assert find(bfd_s) is pad_s and find(bfd_i) is pad_i and find(pad_i) is None
    assert baseline_finder([pad_i, bfd_s], lambda r: r.axes)(bfd_s) is pad_i
    assert baseline_finder([pad_s, bfd_i], lambda r: r.axes)(bfd_i) is pad_s


def test_other_axes_seed_and_extra_keys_must_match():
    runs = [run("padding", seed="0"), run("padding", seed="1"), run("padding", seed="0", lr="1e-4")]
    find = baseline_finder(runs, lambda r: r.axes)
    assert find(run("bfd", seed="1")) is runs[1]
    assert find(run("bfd", seed="0", lr="1e-4")) is runs[2]
    assert find(run("bfd", seed="2")) is None
    over_seeds = baseline_finder(runs[:1], lambda r: r.axes, over_seeds=True)
    assert over_seeds(run("bfd", seed="7")) is runs[0]
    by_repeat = baseline_finder([run("padding", repeat=1)], lambda r: r.axes, also=lambda r: r.repeat)
    assert by_repeat(run("bfd", repeat=0)) is None and by_repeat(run("bfd", repeat=1)) is not None
    assert setup_key(run("bfd", seed="3").axes, over_seeds=True) == (("dataset", "d"), ("model", "m"))


def test_pairing_key_is_the_seed_and_the_repeat():
    assert pairing_key(run("bfd", seed="3")) == "3"
    assert pairing_key(run("bfd", seed="3", repeat=2)) == "3#2"
    assert pairing_key(run("bfd")) == "bfd-isolated-None"
