"""The leakage probe on a real Llama forward, per attention backend."""

from __future__ import annotations

import pytest
import torch

from axolotl_packing_bench.plugin.leakage import measure_leakage, segments_from_positions
from axolotl_packing_bench.plugin.segment_attention import register
from tests.plugin.conftest import packed_batch, tiny_llama

BACKENDS = ["eager", "sdpa", register()]  # register(): packbench_sdpa_varlen, per-segment sdpa


@pytest.mark.parametrize("backend", BACKENDS)
def test_isolated_rows_do_not_leak(backend):
    batch, segments = packed_batch("isolated")
    report = measure_leakage(tiny_llama(backend), [(batch, segments)], attention="isolated", tolerance=1e-4)
    assert report.segments == 12
    assert report.max_abs_diff <= 1e-4
    assert report.passed is True
    assert report.attn_implementation == backend


@pytest.mark.parametrize("backend", BACKENDS)
def test_shared_rows_leak_by_design(backend):
    batch, segments = packed_batch("shared")
    report = measure_leakage(tiny_llama(backend), [(batch, segments)], attention="shared", tolerance=1e-4)
    assert report.max_abs_diff > 1e-3
    assert report.passed is None


@pytest.mark.parametrize("backend", ["eager", "sdpa"])
def test_an_all_ones_mask_silently_breaks_isolation_and_the_probe_says_so(backend):
    batch, segments = packed_batch("isolated")
    batch["attention_mask"] = torch.ones_like(batch["input_ids"])
    report = measure_leakage(tiny_llama(backend), [(batch, segments)], attention="isolated", tolerance=1e-4)
    assert report.max_abs_diff > 1e-3
    assert report.passed is False


@pytest.mark.parametrize("mask", ["all_ones", "segment_ids"])
def test_varlen_sdpa_keeps_isolation_even_when_a_mask_without_padding_is_passed(mask):
    batch, segments = packed_batch("isolated")
    ones = torch.ones_like(batch["input_ids"])
    batch["attention_mask"] = ones if mask == "all_ones" else ones + (batch["position_ids"] == 0).cumsum(-1)
    report = measure_leakage(tiny_llama(register()), [(batch, segments)], attention="isolated", tolerance=1e-4)
    assert report.max_abs_diff <= 1e-4
    assert report.passed is True


def test_segments_from_positions():
    assert segments_from_positions(torch.tensor([0, 1, 2, 0, 1, 0])) == [3, 2, 1]
    assert segments_from_positions(torch.tensor([0, 1, 2, 3])) == [4]
