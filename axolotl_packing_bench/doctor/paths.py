"""The attention paths the check compares, and how a built model is switched onto each.

    name                     rows      how
    eager                    isolated  transformers' eager attention, block-causal mask from position ids
    sdpa                     isolated  transformers' sdpa, the same block mask
    packbench_sdpa_varlen    isolated  the plugin's varlen attention, segment by segment (the sdpa loop)
    packbench_sdpa_varlen+K  isolated  the same with native kernel K (CUDA, bf16: flash_attn, torch_varlen)
    flash_attention_2        isolated  transformers' flash-attention varlen (when flash-attn is installed, CUDA)
    shared                   shared    sdpa over rows whose positions run on: the positive control, must leak
    sdpa+2d_mask             isolated  sdpa given an all-ones 2-D mask, which switches the block mask off:
                                       a known way to leak, added on request (`--inject-leak`) to prove the check fails

`available_paths` lists the ones this device and install can run.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from axolotl_packing_bench.plugin import native_varlen

VARLEN = "packbench_sdpa_varlen"
SHARED = "shared"


@dataclass(frozen=True)
class AttentionPath:
    """One way to run packed rows: a transformers attention implementation, the rows' attention, a varlen kernel."""

    name: str
    implementation: str  # what `set_attn_implementation` gets (the varlen path: sdpa, then switched)
    attention: str = "isolated"
    kernel: str | None = None  # the varlen path's kernel (native_varlen), None: not the varlen path
    mask_2d: bool = False  # batches carry an all-ones 2-D attention mask

    @property
    def isolated(self) -> bool:
        return self.attention == "isolated"


LEAKING = AttentionPath("sdpa+2d_mask", "sdpa", mask_2d=True)


def available_paths(device_type: str, dtype: str, *, inject_leak: bool = False) -> list[AttentionPath]:
    """The paths to check here, isolated ones first (`LEAKING` too with `inject_leak`), the shared control last."""
    paths = [
        AttentionPath("eager", "eager"),
        AttentionPath("sdpa", "sdpa"),
        AttentionPath(VARLEN, "sdpa", kernel=native_varlen.LOOP),
    ]
    if device_type == "cuda" and dtype in ("bfloat16", "float16"):
        paths += [
            AttentionPath(f"{VARLEN}+{kernel}", "sdpa", kernel=kernel) for kernel in native_varlen.available_kernels()
        ]
        if importlib.util.find_spec("flash_attn") is not None:
            paths.append(AttentionPath("flash_attention_2", "flash_attention_2"))
    if inject_leak:
        paths.append(LEAKING)
    paths.append(AttentionPath(SHARED, "sdpa", attention="shared"))
    return paths


@contextmanager
def running_on(model: Any, path: AttentionPath) -> Iterator[None]:
    """Run `model` on `path` inside the block; it is back on sdpa afterwards."""
    from axolotl_packing_bench.plugin.segment_attention import use_segment_attention

    model.set_attn_implementation(path.implementation)
    try:
        if path.kernel is None:
            yield
            return
        use_segment_attention(model)
        with native_varlen.preferred_kernel(path.kernel):
            yield
    finally:
        model.set_attn_implementation("sdpa")
