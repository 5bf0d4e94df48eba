"""Throughput and memory: forward + backward on the same samples, padded and packed on each path.

Every path runs the same steps: step i is packed row `rows[i]` (packed paths)
or that row's samples padded to the longest of them (padding, on sdpa with a
2-D mask), so each step trains the same real tokens either way. The first
`warmup` steps are not timed; the figure is the median over the timed steps
of real tokens / step time. Peak memory is CUDA's peak allocation over the
path's steps (not measured on the CPU).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from axolotl_packing_bench.constants import BASELINE_STRATEGY
from axolotl_packing_bench.doctor.batches import PackedSet, collate_rows, padded_samples
from axolotl_packing_bench.doctor.paths import AttentionPath, running_on
from axolotl_packing_bench.plugin import native_varlen

PADDING = AttentionPath(BASELINE_STRATEGY, "sdpa")


@dataclass(frozen=True)
class Throughput:
    """One path's timing."""

    path: str
    steps: int
    real_tokens_per_step: float
    computed_tokens_per_step: float  # padding included
    median_step_seconds: float
    real_tokens_per_second: float
    peak_memory_gib: float | None
    kernels: dict[str, int]  # the varlen path: rows per kernel (native_varlen.dispatches)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def timed_rows(packed: PackedSet, count: int) -> list[int]:
    """`count` rows spread evenly over the plan (bfd's first rows hold the longest samples, its last the shortest)."""
    return sorted({int(i) for i in np.linspace(0, packed.rows.num_rows - 1, count).round()})


def measure(
    model: Any, packed: PackedSet, rows: list[int], path: AttentionPath, *, warmup: int, device: Any
) -> Throughput:
    """Forward + backward over `rows` on `path` (`PADDING` for the padded baseline)."""
    import torch

    cuda = torch.device(device).type == "cuda"
    seconds, real, computed = [], [], []
    native_varlen.dispatches.clear()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    with running_on(model, path):
        for step, row in enumerate(rows):
            if path is PADDING:
                batch = padded_samples(packed, row, device)
            else:
                batch = collate_rows(packed, [row], attention=path.attention, device=device, mask_2d=path.mask_2d)
            started = time.perf_counter()
            model(**batch).loss.backward()
            if cuda:
                torch.cuda.synchronize()
            elapsed = time.perf_counter() - started
            model.zero_grad(set_to_none=True)
            if step >= warmup:
                seconds.append(elapsed)
                real.append(int(packed.rows.row_offsets[row + 1] - packed.rows.row_offsets[row]))
                computed.append(batch["input_ids"].numel())
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else None
    return Throughput(
        path=path.name,
        steps=len(seconds),
        real_tokens_per_step=statistics.mean(real),
        computed_tokens_per_step=statistics.mean(computed),
        median_step_seconds=statistics.median(seconds),
        real_tokens_per_second=statistics.median([r / s for r, s in zip(real, seconds)]),
        peak_memory_gib=peak,
        kernels=dict(native_varlen.dispatches) if path.kernel else {},
    )
