"""The CUDA dispatch of `packbench_sdpa_varlen` to a native varlen kernel, exercised on the CPU with a stand-in kernel.

The stand-in takes the kernels' own arguments (flattened q/k/v, int32 cu_seqlens, the longest segment) and runs
causal sdpa per cu_seqlens span, so the dispatch's flattening, cu_seqlens and output layout are checked exactly.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from axolotl_packing_bench.plugin import native_varlen
from axolotl_packing_bench.plugin.segment_attention import use_segment_attention
from tests.plugin.conftest import tiny_llama
from tests.plugin.test_segment_attention import packed_rows


def reference_kernel(q, k, v, cu, longest, scaling, gqa):
    """Causal attention within each cu_seqlens span: what flash_attn_varlen_func / varlen_attn compute."""
    assert cu.dtype == torch.int32 and int(cu[-1]) == q.shape[0]
    assert longest == int((cu[1:] - cu[:-1]).max())
    parts = []
    for start, end in zip(cu[:-1].tolist(), cu[1:].tolist()):
        span = [t[start:end].transpose(0, 1)[None] for t in (q, k, v)]  # (1, heads, n, head_dim)
        parts.append(
            F.scaled_dot_product_attention(*span, is_causal=True, scale=scaling, enable_gqa=gqa)[0].transpose(0, 1)
        )
    return torch.cat(parts)


@pytest.fixture
def stand_in_kernel(monkeypatch):
    """Every call dispatches to the stand-in, as a CUDA bf16 call would to a native kernel."""
    monkeypatch.setattr(native_varlen, "kernel_for", lambda query, dropout: native_varlen.TORCH_VARLEN)
    monkeypatch.setattr(native_varlen, "_kernel_function", lambda kernel: reference_kernel)
    native_varlen.dispatches.clear()


def test_the_cpu_and_fp32_keep_the_loop():
    query = torch.zeros(1, 2, 4, 8)
    assert native_varlen.kernel_for(query, 0.0) == native_varlen.LOOP
    assert native_varlen.kernel_for(query.bfloat16(), 0.0) == native_varlen.LOOP  # not CUDA
    with native_varlen.preferred_kernel(native_varlen.TORCH_VARLEN):
        assert native_varlen.kernel_for(query, 0.0) == native_varlen.LOOP
    unknown = pytest.raises(ValueError, match="unknown varlen kernel 'xformers'")
    with unknown, native_varlen.preferred_kernel("xformers"):
        pass


def test_cu_seqlens_run_over_the_flattened_batch():
    cu, longest = native_varlen.cu_seqlens([[(0, 3), (3, 5)], [(0, 4), (4, 5)]], 5, torch.device("cpu"))
    assert cu.tolist() == [0, 3, 5, 9, 10] and cu.dtype == torch.int32 and longest == 4


@pytest.mark.parametrize("rows", [[[30, 5, 61, 1, 20]], [[17, 40, 9], [3, 3, 3, 50], [66]]])
def test_the_native_dispatch_gives_the_loops_logits_and_gradients(rows, stand_in_kernel, monkeypatch):
    batch = packed_rows(rows)
    model = tiny_llama("sdpa")
    assert use_segment_attention(model)
    out = model(**batch)
    out.loss.backward()
    native = out.logits.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}
    assert native_varlen.dispatches == {native_varlen.TORCH_VARLEN: 2 * len(rows)}  # 2 layers, every row

    model.zero_grad(set_to_none=True)
    monkeypatch.undo()  # back to the real choice: the loop on the CPU
    out = model(**batch)
    out.loss.backward()
    assert native_varlen.dispatches[native_varlen.LOOP] == 2 * len(rows)
    assert (out.logits.detach() - native[0]).abs().max() <= 1e-5
    for name, param in model.named_parameters():
        assert (param.grad - native[1][name]).abs().max() <= 1e-5, name
