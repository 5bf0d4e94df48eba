"""Varlen attention on sdpa: each packed segment attends to itself, computed segment by segment.

transformers isolates packed segments on sdpa by building a block-causal mask
over the whole row, so a 1,024-token row of eight ~128-token samples pays for
1,024² attention scores when only Σ len² ≈ 8 × 128² are needed. This module
registers an attention implementation, `packbench_sdpa_varlen`, that cuts the
row where its position ids restart and runs causal sdpa on each segment alone:
the same numbers (it is exact attention, not an approximation), the cost of
flash-attention's varlen kernel, on any device sdpa runs on.

    row            a1 a2 a3 b1 b2 c1 c2
    position_ids   0  1  2  0  1  0  1
    segments       [0, 3) [3, 5) [5, 7)  ->  sdpa(a, causal) | sdpa(b, causal) | sdpa(c, causal)

Each row is split into its segments (`torch.split`, whose backward is one
concatenation; slicing would zero-fill a whole-row gradient per segment).
Measured on a CPU and not taken: padding same-bucket segments into one
batched sdpa call (the padded scores cost more than the calls saved) and
nested jagged tensors (no CPU sdpa kernel for them with GQA in torch 2.13).

Batches that carry a padding mask (the `padding` strategy's eval split, for
instance) go to transformers' own sdpa with that mask unchanged.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F

from axolotl_packing_bench.compat.transformers_api import attn_implementation, set_attn_implementation
from axolotl_packing_bench.plugin import native_varlen

NAME = "packbench_sdpa_varlen"


def segment_bounds(position_ids: torch.Tensor, batch_size: int) -> list[list[tuple[int, int]]]:
    """Per row, the `[start, end)` spans where position ids count up by one."""
    positions = position_ids.expand(batch_size, -1)
    length = positions.shape[1]
    breaks = positions[:, 1:] != positions[:, :-1] + 1  # breaks[r, i]: a segment starts at column i + 1
    rows: list[list[int]] = [[0] for _ in range(batch_size)]
    for row, column in breaks.nonzero().tolist():
        rows[row].append(column + 1)
    return [list(zip(starts, [*starts[1:], length])) for starts in rows]


class _BoundsCache:
    """Remembers the bounds of the last position-id tensor seen (one forward calls every layer with it)."""

    def __init__(self) -> None:
        self._tensor: weakref.ref | None = None
        self._key: tuple | None = None
        self._bounds: list[list[tuple[int, int]]] = []

    def bounds(self, position_ids: torch.Tensor, batch_size: int) -> list[list[tuple[int, int]]]:
        key = (batch_size, position_ids._version)
        if self._tensor is None or self._tensor() is not position_ids or self._key != key:
            self._bounds = segment_bounds(position_ids, batch_size)
            self._tensor, self._key = weakref.ref(position_ids), key
        return self._bounds


_CACHE = _BoundsCache()


def segment_sdpa_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    position_ids: torch.Tensor | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """transformers attention interface.

    `query` is (batch, heads, length, head_dim); returns (batch, length, heads, head_dim).
    """
    if attention_mask is not None or position_ids is None or query.shape[2] != key.shape[2]:
        from axolotl_packing_bench.compat.transformers_api import sdpa_attention_forward

        return sdpa_attention_forward(
            module,
            query,
            key,
            value,
            attention_mask,
            dropout=dropout,
            scaling=scaling,
            position_ids=position_ids,
            **kwargs,
        )
    kernel = native_varlen.kernel_for(query, dropout)  # CUDA fp16/bf16: one native kernel (native_varlen)
    if kernel != native_varlen.LOOP:
        bounds = _CACHE.bounds(position_ids, query.shape[0])
        return native_varlen.varlen_attention(kernel, query, key, value, bounds, scaling), None
    native_varlen.dispatches[kernel] += query.shape[0]
    gqa = query.shape[1] != key.shape[1]
    rows = []
    for spans, *tensors in zip(
        _CACHE.bounds(position_ids, query.shape[0]), query.unbind(0), key.unbind(0), value.unbind(0), strict=True
    ):
        lengths = [end - start for start, end in spans]
        # split, not slices: a slice's backward writes its gradient into a zeroed copy of the whole row
        segments = zip(*(tensor.unsqueeze(0).split(lengths, dim=2) for tensor in tensors), strict=True)
        parts = [
            F.scaled_dot_product_attention(
                q, k, v, dropout_p=dropout, is_causal=True, scale=scaling, enable_gqa=gqa
            ).transpose(1, 2)
            for q, k, v in segments
        ]
        rows.append(torch.cat(parts, dim=1) if len(parts) > 1 else parts[0])
    output = torch.cat(rows, dim=0) if len(rows) > 1 else rows[0]
    return output.contiguous(), None


def segment_mask(*args: Any, attention_mask: torch.Tensor | None = None, **kwargs: Any) -> torch.Tensor | None:
    """Mask interface: no mask for packed rows (the segments come from position ids), sdpa's for padding masks."""
    if attention_mask is None:
        return None
    from axolotl_packing_bench.compat.transformers_api import sdpa_mask

    return sdpa_mask(*args, attention_mask=attention_mask, **kwargs)


def register() -> str:
    """Make `packbench_sdpa_varlen` known to transformers (idempotent); returns its name."""
    from axolotl_packing_bench.compat.transformers_api import AttentionInterface, AttentionMaskInterface

    AttentionInterface.register(NAME, segment_sdpa_attention)
    AttentionMaskInterface.register(NAME, segment_mask)
    return NAME


def use_segment_attention(model: torch.nn.Module) -> bool:
    """Switch a model that runs sdpa to `packbench_sdpa_varlen`; False (unchanged) on any other backend.

    The name is not saved with the model (transformers drops it from
    config.json), so checkpoints load with plain sdpa.
    """
    config = getattr(model, "config", None)
    if config is None or attn_implementation(config) != "sdpa":
        return False
    register()
    for sub in model.modules():  # every config object the model's layers read
        sub_config = getattr(sub, "config", None)
        if sub_config is not None and attn_implementation(sub_config) == "sdpa":
            set_attn_implementation(sub_config, NAME)
    return True


@contextmanager
def plain_sdpa(model: torch.nn.Module) -> Iterator[None]:
    """Run `model` on transformers' own sdpa for a while, undoing `use_segment_attention` meanwhile."""
    configs = {
        id(c): c
        for sub in model.modules()
        if (c := getattr(sub, "config", None)) is not None and attn_implementation(c) == NAME
    }.values()
    for config in configs:
        set_attn_implementation(config, "sdpa")
    try:
        yield
    finally:
        for config in configs:
            set_attn_implementation(config, NAME)
