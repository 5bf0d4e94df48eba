"""The cross-segment leakage probe.

For each segment of a packed row, compare the logits the model gives it inside
the row with the logits it gives the segment run alone. With `isolated`
attention the difference is rounding noise (<= 1e-4 in fp32); with `shared`
attention later segments see earlier ones, so it is large by design.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch

from axolotl_packing_bench.compat.transformers_api import attn_implementation
from axolotl_packing_bench.plugin.segment_attention import segment_bounds

# Half-precision kernels differ from fp32 by far more than 1e-4 even with
# perfect isolation; below fp32 the tolerance is raised to this floor.
HALF_PRECISION_TOLERANCE = 5e-2


@dataclass(frozen=True)
class LeakageReport:
    """The largest logit difference found, and what it was measured on."""

    max_abs_diff: float
    segments: int
    rows: int
    attn_implementation: str
    dtype: str
    tolerance: float
    passed: bool | None  # None for shared attention: leakage is expected there

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def segments_from_positions(position_ids: torch.Tensor) -> list[int]:
    """Segment lengths of one row, cut where positions restart (as transformers and varlen sdpa cut it)."""
    return [end - start for start, end in segment_bounds(position_ids[None], 1)[0]]


@torch.no_grad()
def measure_leakage(
    model: torch.nn.Module,
    batches: Iterable[tuple[dict[str, torch.Tensor], Sequence[Sequence[int]]]],
    *,
    attention: str,
    tolerance: float,
) -> LeakageReport:
    """Run each batch as training does, then each segment alone, and compare logits.

    Args:
        model: a causal LM.
        batches: `(batch, segment_lengths_per_row)` pairs; the batch is what the
            trainer feeds the model (labels are ignored).
        attention: `isolated` or `shared`; decides pass/fail.
        tolerance: the largest difference allowed for `isolated` in fp32.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    worst, segments, rows = 0.0, 0, 0
    try:
        for batch, row_segments in batches:
            inputs = {
                k: v.to(device)
                for k, v in batch.items()
                if k != "labels" and not k.startswith("packbench_") and torch.is_tensor(v)
            }
            in_row = model(**inputs, use_cache=False).logits.float()
            for row, lengths in enumerate(row_segments):
                rows += 1
                start = 0
                for length in lengths:
                    if length == 0:
                        continue
                    ids = inputs["input_ids"][row : row + 1, start : start + length]
                    positions = torch.arange(length, device=device).unsqueeze(0)
                    alone = model(input_ids=ids, position_ids=positions, use_cache=False).logits.float()
                    diff = (in_row[row, start : start + length] - alone[0]).abs().max().item()
                    worst = max(worst, diff)
                    segments += 1
                    start += length
    finally:
        model.train(was_training)
    effective_tolerance = tolerance if dtype == torch.float32 else max(tolerance, HALF_PRECISION_TOLERANCE)
    return LeakageReport(
        max_abs_diff=worst,
        segments=segments,
        rows=rows,
        attn_implementation=str(attn_implementation(model.config) or "unknown"),
        dtype=str(dtype).replace("torch.", ""),
        tolerance=effective_tolerance,
        passed=(worst <= effective_tolerance) if attention == "isolated" else None,
    )
