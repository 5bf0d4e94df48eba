"""Native varlen attention kernels that `packbench_sdpa_varlen` hands packed rows to on CUDA.

`packbench_sdpa_varlen` runs one causal sdpa call per packed segment. On a GPU
one kernel over the whole batch, told where each segment starts
(`cu_seqlens`), does the same exact attention in one launch. Two are known:

- `flash_attn`: flash-attention's `flash_attn_varlen_func`, when the
  `flash-attn` package is installed;
- `torch_varlen`: torch's own `torch.nn.attention.varlen.varlen_attn`
  (torch >= 2.10 builds with it).

Both run on CUDA in fp16/bf16 only, without dropout; anything else (the CPU,
fp32, dropout) keeps the segment loop. `kernel_for` picks the kernel for a
call, `preferred_kernel` forces one (or the loop, `LOOP`) for a while so the
paths can be timed against each other (`packbench doctor`), and `dispatches`
counts which kernel each packed row went through.

    segments per row   [0, 3) [3, 5) | [0, 4)      (batch of 2 rows, length 5)
    cu_seqlens         0 3 5 9                     (the batch flattened; padding is its own segment)
"""

from __future__ import annotations

import functools
import importlib.util
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

LOOP = "sdpa_loop"
FLASH_ATTN = "flash_attn"
TORCH_VARLEN = "torch_varlen"
KERNELS = (FLASH_ATTN, TORCH_VARLEN)
"""Native kernels in order of preference."""
HALF_DTYPES = (torch.float16, torch.bfloat16)

dispatches: Counter[str] = Counter()
"""Rows attended per kernel name (`LOOP` included; one count per row per layer call) since `dispatches.clear()`."""

_forced: list[str | None] = [None]


@functools.lru_cache(maxsize=1)
def available_kernels() -> tuple[str, ...]:
    """The native kernels importable here (whatever the device), in order of preference."""
    found = []
    if importlib.util.find_spec("flash_attn") is not None:
        found.append(FLASH_ATTN)
    if _torch_varlen() is not None:
        found.append(TORCH_VARLEN)
    return tuple(found)


@contextmanager
def preferred_kernel(name: str | None) -> Iterator[None]:
    """Use kernel `name` (or the loop, `LOOP`) where a native kernel may run; None restores the automatic choice."""
    if name not in (None, LOOP, *KERNELS):
        raise ValueError(f"unknown varlen kernel {name!r}; use {LOOP}, {' or '.join(KERNELS)}")
    _forced.append(name)
    try:
        yield
    finally:
        _forced.pop()


def kernel_for(query: torch.Tensor, dropout: float) -> str:
    """The kernel this call runs on: a native one on CUDA in fp16/bf16 without dropout, else `LOOP`."""
    forced = _forced[-1]
    if forced == LOOP or not query.is_cuda or query.dtype not in HALF_DTYPES or dropout:
        return LOOP
    kernels = available_kernels()
    if forced is not None:
        return forced if forced in kernels else LOOP
    return kernels[0] if kernels else LOOP


def cu_seqlens(bounds: list[list[tuple[int, int]]], length: int, device: torch.device) -> tuple[torch.Tensor, int]:
    """Cumulative segment starts over the flattened batch (int32, as the kernels take them) and the longest segment."""
    starts = [row * length + start for row, spans in enumerate(bounds) for start, _ in spans]
    longest = max(end - start for spans in bounds for start, end in spans)
    return torch.tensor([*starts, len(bounds) * length], dtype=torch.int32, device=device), longest


def varlen_attention(
    kernel: str,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    bounds: list[list[tuple[int, int]]],
    scaling: float | None,
) -> torch.Tensor:
    """Causal attention within each span of `bounds` by one native kernel call.

    `query`, `key`, `value` are (batch, heads, length, head_dim) as transformers passes them (`key`/`value` may
    have fewer heads: GQA); returns (batch, length, heads, head_dim), the attention interface's layout.
    """
    batch, heads, length, head_dim = query.shape

    def flat(tensor: torch.Tensor) -> torch.Tensor:  # (batch * length, heads, head_dim)
        return tensor.transpose(1, 2).reshape(batch * length, tensor.shape[1], head_dim)

    cu, longest = cu_seqlens(bounds, length, query.device)
    run = _kernel_function(kernel)
    output = run(flat(query), flat(key), flat(value), cu, longest, scaling, key.shape[1] != heads)
    dispatches[kernel] += batch
    return output.reshape(batch, length, heads, head_dim)


def _kernel_function(kernel: str) -> Callable[..., torch.Tensor]:
    if kernel == FLASH_ATTN:
        from flash_attn import flash_attn_varlen_func

        def flash(q, k, v, cu, longest, scaling, gqa):  # flash-attn takes GQA's fewer kv heads as they are
            return flash_attn_varlen_func(
                q, k, v, cu, cu, longest, longest, dropout_p=0.0, softmax_scale=scaling, causal=True
            )

        return flash
    if kernel == TORCH_VARLEN:
        varlen_attn = _torch_varlen()

        def native(q, k, v, cu, longest, scaling, gqa):
            return varlen_attn(q, k, v, cu, cu, longest, longest, scale=scaling, window_size=(-1, 0), enable_gqa=gqa)

        return native
    raise ValueError(f"unknown varlen kernel {kernel!r}; use {' or '.join(KERNELS)}")


def _torch_varlen() -> Callable[..., torch.Tensor] | None:
    try:
        from torch.nn.attention.varlen import varlen_attn
    except ImportError:
        return None
    return varlen_attn
