"""Isolation: does each packed segment get the logits it gets alone?

For every checked row, the row's batch is run once and each of its segments
once on its own (positions from 0), on the same path; the figure is the
largest |Δlogit| over all their tokens. It is judged against the largest
|logit| of the segments alone times a tolerance for the dtype: exact attention
differs from itself only by the order of floating-point sums.

    dtype      tolerance (relative to the largest |logit|)
    float32    1e-4
    float16    1e-2
    bfloat16   5e-2

An isolated path within it passes; the `shared` control must exceed it (else
the check could not see leakage at all).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from axolotl_packing_bench.doctor.batches import PackedSet, alone, collate_rows
from axolotl_packing_bench.doctor.paths import AttentionPath, running_on

RELATIVE_TOLERANCE = {"float32": 1e-4, "float16": 1e-2, "bfloat16": 5e-2}


@dataclass(frozen=True)
class Isolation:
    """One path's isolation figures."""

    path: str
    isolated: bool
    segments: int
    max_abs_delta: float
    logit_scale: float
    tolerance: float

    @property
    def leaks(self) -> bool:
        return self.max_abs_delta > self.tolerance

    @property
    def passed(self) -> bool:
        """Isolated paths must not leak; the shared control must."""
        return self.leaks != self.isolated

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "isolated": self.isolated,
            "segments": self.segments,
            "max_abs_delta": self.max_abs_delta,
            "logit_scale": self.logit_scale,
            "tolerance": self.tolerance,
            "leaks": self.leaks,
            "passed": self.passed,
        }


def rows_to_check(packed: PackedSet, count: int) -> list[int]:
    """The `count` rows with the most segments (the most chances to leak), in row order."""
    segments = np.diff(packed.rows.segment_offsets)
    return sorted(int(i) for i in np.argsort(-segments, kind="stable")[:count])


def check_isolation(
    model: Any, packed: PackedSet, rows: list[int], path: AttentionPath, *, dtype: str, device: Any
) -> Isolation:
    """Max |Δlogit| of the segments of `rows` packed vs alone on `path`."""
    import torch

    worst, scale, segments = 0.0, 0.0, 0
    with running_on(model, path), torch.no_grad():
        batch = collate_rows(packed, rows, attention=path.attention, device=device, mask_2d=path.mask_2d)
        batch.pop("labels")
        packed_logits = model(**batch).logits.float()
        for i, row in enumerate(rows):
            for span in packed.segments(row):
                single = model(**alone(packed, row, span, device)).logits.float()[0]
                worst = max(worst, float((packed_logits[i, span[0] : span[1]] - single).abs().max()))
                scale = max(scale, float(single.abs().max()))
                segments += 1
    return Isolation(
        path=path.name,
        isolated=path.isolated,
        segments=segments,
        max_abs_delta=worst,
        logit_scale=scale,
        tolerance=RELATIVE_TOLERANCE[dtype] * scale,
    )
