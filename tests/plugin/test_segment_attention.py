"""`packbench_sdpa_varlen`: per-segment sdpa gives transformers' block-mask results, forward and backward."""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaForCausalLM

from axolotl_packing_bench.plugin.segment_attention import NAME, segment_bounds, use_segment_attention
from tests.plugin.conftest import tiny_llama


def packed_rows(lengths_per_row: list[list[int]]) -> dict[str, torch.Tensor]:
    """Rows of restarted positions, padded to the longest with a pad segment (as the collator does)."""
    longest = max(sum(row) for row in lengths_per_row)
    positions = []
    for row in lengths_per_row:
        pad = longest - sum(row)
        positions.append(torch.cat([torch.arange(n) for n in [*row, pad] if n]))
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(1, 100, (len(lengths_per_row), longest), generator=generator)
    return {"input_ids": input_ids, "position_ids": torch.stack(positions), "labels": input_ids.clone()}


def forward_backward(model, batch):
    out = model(**batch)
    out.loss.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    return out.logits.detach(), out.loss.detach(), grads


def test_segment_bounds_cut_where_positions_restart():
    positions = torch.tensor([[0, 1, 2, 0, 1, 0], [0, 1, 2, 3, 4, 5]])
    assert segment_bounds(positions, 2) == [[(0, 3), (3, 5), (5, 6)], [(0, 6)]]
    assert segment_bounds(torch.arange(4)[None], 3) == [[(0, 4)]] * 3  # unexpanded positions


@pytest.mark.parametrize("rows", [[[30, 5, 61, 1, 20]], [[17, 40, 9], [3, 3, 3, 50], [66]]])
def test_same_logits_loss_and_gradients_as_the_block_mask(rows):
    batch = packed_rows(rows)
    reference = tiny_llama("sdpa")
    varlen = tiny_llama("sdpa")
    assert use_segment_attention(varlen)
    ref_logits, ref_loss, ref_grads = forward_backward(reference, batch)
    logits, loss, grads = forward_backward(varlen, batch)
    assert (logits - ref_logits).abs().max() <= 1e-5
    assert abs(loss - ref_loss) <= 1e-6
    for name, grad in grads.items():
        assert torch.allclose(grad, ref_grads[name], atol=1e-6, rtol=1e-4), name


def test_a_segment_gives_the_same_logits_alone_and_packed():
    model = tiny_llama("sdpa")
    use_segment_attention(model)
    batch = packed_rows([[12, 25, 7]])
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits[0, 12:37]
        alone = model(input_ids=batch["input_ids"][:, 12:37]).logits[0]
    assert (packed - alone).abs().max() <= 1e-5


def test_padding_masks_go_to_plain_sdpa():
    batch = packed_rows([[20], [9]])
    mask = (torch.arange(20)[None] < torch.tensor([[20], [9]])).long()
    batch["input_ids"][1, 9:] = 0
    batch = {"input_ids": batch["input_ids"], "attention_mask": mask}
    reference, varlen = tiny_llama("sdpa"), tiny_llama("sdpa")
    use_segment_attention(varlen)
    with torch.no_grad():
        expected, got = reference(**batch).logits, varlen(**batch).logits
    assert (expected[1, :9] - got[1, :9]).abs().max() <= 1e-5
    assert (expected[0] - got[0]).abs().max() <= 1e-5


def test_only_sdpa_models_switch_and_checkpoints_load_with_sdpa(tmp_path):
    eager = tiny_llama("eager")
    assert not use_segment_attention(eager)
    assert eager.config._attn_implementation == "eager"
    model = tiny_llama("sdpa")
    assert use_segment_attention(model)
    assert all(m.config._attn_implementation == NAME for m in model.modules() if hasattr(m, "config"))
    model.save_pretrained(tmp_path)
    assert NAME not in (tmp_path / "config.json").read_text()
    reloaded = LlamaForCausalLM.from_pretrained(tmp_path, attn_implementation="sdpa")
    assert reloaded.config._attn_implementation == "sdpa"


def test_new_position_tensors_are_not_served_stale_bounds():
    model = tiny_llama("sdpa")
    use_segment_attention(model)
    reference = tiny_llama("sdpa")
    with torch.no_grad():
        for rows in ([[10, 10]], [[5, 15]], [[20]]):
            batch = packed_rows(rows)
            del batch["labels"]
            assert (model(**batch).logits - reference(**batch).logits).abs().max() <= 1e-5


def per_segment_reference(query, key, value, position_ids):
    """The plain path: causal sdpa on each segment's slice, one call per segment, concatenated."""
    import torch.nn.functional as F

    rows = []
    for row, spans in enumerate(segment_bounds(position_ids, query.shape[0])):
        rows.append(
            torch.cat(
                [
                    F.scaled_dot_product_attention(
                        query[row : row + 1, :, start:end],
                        key[row : row + 1, :, start:end],
                        value[row : row + 1, :, start:end],
                        is_causal=True,
                        enable_gqa=query.shape[1] != key.shape[1],
                    )
                    for start, end in spans
                ],
                dim=2,
            )
        )
    return torch.cat(rows).transpose(1, 2)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("kv_heads", [4, 2])
def test_split_segments_match_the_plain_per_segment_path(seed: int, kv_heads: int):
    """Random packed rows, fp32: outputs and the gradients of q, k and v agree to 1e-5 (float rounding only)."""
    from axolotl_packing_bench.plugin.segment_attention import segment_sdpa_attention

    generator = torch.Generator().manual_seed(seed)
    rows = [
        [
            int(n)
            for n in torch.randint(1, 90, (int(torch.randint(1, 7, (1,), generator=generator)),), generator=generator)
        ]
        for _ in range(3)
    ]
    positions = packed_rows(rows)["position_ids"]
    length = positions.shape[1]
    shapes = [(3, 4, length, 16), (3, kv_heads, length, 16), (3, kv_heads, length, 16)]
    inputs = [torch.randn(shape, generator=generator, requires_grad=True) for shape in shapes]
    copies = [tensor.detach().clone().requires_grad_() for tensor in inputs]
    got, _ = segment_sdpa_attention(torch.nn.Module(), *inputs, None, position_ids=positions)
    expected = per_segment_reference(*copies, positions)
    assert got.shape == expected.shape == (3, length, 4, 16)
    assert (got - expected).abs().max() <= 1e-5
    upstream = torch.randn(got.shape, generator=generator)
    (got * upstream).sum().backward()
    (expected * upstream).sum().backward()
    for tensor, copy in zip(inputs, copies, strict=True):
        assert (tensor.grad - copy.grad).abs().max() <= 1e-5
