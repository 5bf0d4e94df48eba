"""The check's batches, made the way the plugin makes them during training.

The shipped lengths are packed with `bfd` into rows of the shape's length
(`packing.pack`, samples longer than a row truncated), the rows built by the
plugin's row builder (`plugin.rows.build_rows`) over random token ids, and
batched by its collator (`plugin.collator.PackedRowCollator`). The padding
baseline batches the same samples, one packed row's samples per micro batch,
each padded to the longest of them, with a 2-D attention mask.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

STRATEGY = "bfd"


@dataclass(frozen=True)
class PackedSet:
    """Packed rows (`plugin.rows.PackedRows`) and the token ids of the samples they hold."""

    rows: Any
    samples: Any  # plugin.rows.TokenizedSamples
    efficiency: float

    def row(self, index: int, *, attention: str) -> dict[str, Any]:
        """Row `index` as the plugin's dataset holds it (positions as `attention` sets them)."""
        start, stop = self.rows.row_offsets[index], self.rows.row_offsets[index + 1]
        segments = self.rows.segment_lengths[self.rows.segment_offsets[index] : self.rows.segment_offsets[index + 1]]
        positions = self.rows.position_ids[start:stop]
        if attention == "shared":
            positions = np.arange(stop - start)
        return {
            "input_ids": self.rows.input_ids[start:stop],
            "labels": self.rows.labels[start:stop],
            "position_ids": positions,
            "seq_lens": segments,
        }

    def segments(self, index: int) -> list[tuple[int, int]]:
        """Row `index`'s segments as `[start, end)` token spans within the row."""
        lengths = self.rows.segment_lengths[self.rows.segment_offsets[index] : self.rows.segment_offsets[index + 1]]
        ends = np.cumsum(lengths)
        return [(int(end - n), int(end)) for n, end in zip(lengths, ends) if n > 0]


def pack_lengths(lengths: np.ndarray, row_tokens: int, vocab: int, *, seed: int = 0) -> PackedSet:
    """Pack `lengths` with `bfd` into rows of `row_tokens` over random token ids below `vocab`."""
    from axolotl_packing_bench.packing import pack
    from axolotl_packing_bench.plugin.rows import TokenizedSamples, build_rows

    lengths = np.asarray(lengths, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    ids = np.random.default_rng(seed).integers(1, vocab, size=int(offsets[-1]), dtype=np.int64)
    samples = TokenizedSamples(input_ids=ids, labels=ids.copy(), offsets=offsets)
    plan = pack(lengths, row_tokens, strategy=STRATEGY, seed=seed, overflow="truncate")
    rows = build_rows(samples, plan, attention="isolated")
    return PackedSet(rows=rows, samples=samples, efficiency=float(plan.efficiency))


class _PadToken:
    pad_token_id = 0


def collate_rows(
    packed: PackedSet, indices: list[int], *, attention: str, device: Any, mask_2d: bool = False
) -> dict[str, Any]:
    """Rows `indices` batched by the plugin's collator, on `device`.

    `mask_2d` adds an all-ones 2-D attention mask, the mistake the collator avoids: it switches transformers'
    packed-sequence detection off, so the segments of a row see each other (the check's deliberate leak).
    """
    import torch

    from axolotl_packing_bench.plugin.collator import PackedRowCollator

    collator = PackedRowCollator(_PadToken(), attention=attention)
    batch = collator([packed.row(i, attention=attention) for i in indices])
    if mask_2d:
        batch["attention_mask"] = torch.ones_like(batch["input_ids"])
    return {key: value.to(device) for key, value in batch.items()}


def alone(packed: PackedSet, row: int, span: tuple[int, int], device: Any) -> dict[str, Any]:
    """One segment of row `row` as a batch of its own (positions from 0)."""
    import torch

    start, stop = packed.rows.row_offsets[row] + span[0], packed.rows.row_offsets[row] + span[1]
    ids = torch.as_tensor(packed.rows.input_ids[start:stop], dtype=torch.long, device=device)[None]
    return {"input_ids": ids, "position_ids": torch.arange(ids.shape[1], device=device)[None]}


def padded_samples(packed: PackedSet, row: int, device: Any) -> dict[str, Any]:
    """Row `row`'s samples as a padding micro batch: one sequence each, padded to the longest, with a 2-D mask."""
    import torch

    start = packed.rows.row_offsets[row]
    spans = packed.segments(row)
    longest = max(stop - begin for begin, stop in spans)
    input_ids = torch.zeros((len(spans), longest), dtype=torch.long)
    labels = torch.full((len(spans), longest), -100, dtype=torch.long)
    mask = torch.zeros((len(spans), longest), dtype=torch.long)
    for i, (begin, stop) in enumerate(spans):
        tokens = torch.as_tensor(packed.rows.input_ids[start + begin : start + stop], dtype=torch.long)
        input_ids[i, : len(tokens)] = tokens
        labels[i, 1 : len(tokens)] = tokens[1:]
        mask[i, : len(tokens)] = 1
    return {"input_ids": input_ids.to(device), "labels": labels.to(device), "attention_mask": mask.to(device)}
