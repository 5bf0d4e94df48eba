"""`packbench_sdpa_varlen` against the plain per-segment loop: forward and backward on packed rows.

tiny-70b's attention shape (4 query heads, 2 key/value heads, head dim 32) on
rows of 1,024 tokens that bfd packs from the ANCHORS.md lengths (the rest of a
row is one padding segment, as the collator makes it). The goal is a ratio in
this run (min over rounds): the split path no slower than the slicing loop it
replaced. Run:

    .venv/bin/python -m pytest benchmarks/test_attention_speed.py -p no:cacheprovider
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from axolotl_packing_bench.packing import pack
from axolotl_packing_bench.plugin.segment_attention import segment_sdpa_attention
from tests.plugin.test_segment_attention import packed_rows, per_segment_reference

CAPACITY = 1024
ROWS = 8
HEADS, KV_HEADS, HEAD_DIM = 4, 2, 32
MAX_RATIO = 1.0
TIMES: dict[str, float] = {}


@pytest.fixture(scope="module")
def inputs(lengths: np.ndarray) -> tuple[torch.Tensor, ...]:
    """(query, key, value, position_ids) of `ROWS` bfd rows; float32, requiring gradients."""
    plan = pack(lengths[:4000], CAPACITY, strategy="bfd")
    sizes = plan.stop - plan.start
    rows = [[int(n) for n in sizes[plan.bin_offsets[b] : plan.bin_offsets[b + 1]]] for b in range(ROWS)]
    positions = packed_rows(rows)["position_ids"]  # each row padded to the longest: one padding segment
    generator = torch.Generator().manual_seed(0)
    shapes = [
        (ROWS, HEADS, CAPACITY, HEAD_DIM),
        (ROWS, KV_HEADS, CAPACITY, HEAD_DIM),
        (ROWS, KV_HEADS, CAPACITY, HEAD_DIM),
    ]
    return (*(torch.randn(shape, generator=generator, requires_grad=True) for shape in shapes), positions)


def split_path(query, key, value, positions):
    return segment_sdpa_attention(torch.nn.Module(), query, key, value, None, position_ids=positions)[0]


PATHS = {"per_segment_slices": per_segment_reference, "split": split_path}


def forward_backward(path, query, key, value, positions) -> None:
    PATHS[path](query, key, value, positions).sum().backward()


@pytest.mark.parametrize("path", list(PATHS))
def test_attention_path(benchmark, path, inputs):
    benchmark.pedantic(forward_backward, args=(path, *inputs), rounds=5, iterations=1, warmup_rounds=1)
    TIMES[path] = benchmark.stats.stats.min
    benchmark.extra_info.update(rows=ROWS, capacity=CAPACITY, threads=torch.get_num_threads())


def test_split_is_no_slower_than_the_slicing_loop():
    if set(TIMES) != set(PATHS):
        pytest.skip("run with test_attention_path (both paths timed in this run)")
    ratio = TIMES["split"] / TIMES["per_segment_slices"]
    print(f"\nsplit: {ratio:.3f}x the per-segment slicing loop's time (forward + backward)")
    assert ratio <= MAX_RATIO
