"""Training speed on the embedded default: padding vs greedy, bfd and Axolotl's own packing.

One epoch of the same tiny model on the same synthetic data, in one process
run, so the ratios compare like with like. Run with:

    .venv/bin/python -m pytest benchmarks/test_training_speed.py -s -p no:cacheprovider

Padding uses 8 samples per micro batch (padded to the longest); every packer
uses one row of 1,024 tokens per micro batch, as in ../shared/ANCHORS.md.
greedy and bfd run per-segment sdpa (`packbench_sdpa_varlen`, the default);
`bfd_block_mask` is bfd with transformers' row-wide block mask instead, shown
for comparison and not asserted.
"""

from __future__ import annotations

import json
import os

import pytest

from tests.plugin.conftest import axolotl_train, chat_dataset, recipe

SETTINGS = {
    "padding": {"packbench_strategy": "padding", "micro_batch_size": 8},
    "greedy": {"packbench_strategy": "greedy", "micro_batch_size": 1},
    "bfd": {"packbench_strategy": "bfd", "micro_batch_size": 1},
    "bfd_block_mask": {"packbench_strategy": "bfd", "micro_batch_size": 1, "packbench_sdpa_varlen": False},
    "native": {"packbench_strategy": "native", "micro_batch_size": 1, "pad_to_sequence_len": True},
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from axolotl_packing_bench.assets import ensure_dataset, ensure_model

    dataset = os.environ.get("PACKBENCH_BENCH_DATASET", "synth-69k")  # e.g. synth-326k for a longer epoch
    model, data = str(ensure_model("tiny-70b-init")), str(ensure_dataset(dataset))
    results = {}
    for run, settings in SETTINGS.items():
        workdir = tmp_path_factory.mktemp(run)
        cfg = recipe(model, chat_dataset(data), workdir, sequence_len=1024, learning_rate=2e-4, logging_steps=50,
                     **settings)
        proc, metrics = axolotl_train(cfg, workdir, timeout=1800)
        assert proc.returncode == 0, proc.stderr[-3000:]
        results[run] = metrics
    print("\n" + json.dumps({run: {**{k: m["training"][k] for k in ("runtime_s", "steps", "real_tokens_per_s")},
                                   "attention": m["leakage"] and m["leakage"]["attn_implementation"]}
                             for run, m in results.items()}, indent=1))
    return results


@pytest.mark.parametrize("strategy", ["greedy", "bfd"])
def test_packing_beats_padding_and_matches_axolotl(runs, strategy, benchmark):
    padding, packed, native = (runs[s]["training"] for s in ("padding", strategy, "native"))
    time_ratio = packed["runtime_s"] / padding["runtime_s"]
    throughput_ratio = packed["real_tokens_per_s"] / native["real_tokens_per_s"]
    benchmark.extra_info.update(
        time_vs_padding=round(time_ratio, 3),
        tokens_per_s_vs_native=round(throughput_ratio, 3),
        runtime_s=packed["runtime_s"],
        padding_runtime_s=padding["runtime_s"],
        native_runtime_s=native["runtime_s"],
        efficiency=runs[strategy]["packing"]["efficiency"],
        attention=runs[strategy]["leakage"]["attn_implementation"],
    )
    benchmark.pedantic(lambda: None, rounds=1)  # figures come from the training runs above
    assert time_ratio <= 0.55
    assert throughput_ratio >= 0.98
