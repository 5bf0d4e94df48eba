"""The trainer's real batch efficiency: real tokens / token slots of the micro batches the model saw.

The plan's `efficiency` counts rows of full capacity (`sequence_len`); the
trainer pads each micro batch only to its longest row (rounded up to
`pad_to_multiple_of`), so what it computes on is counted here, batch by batch:

    micro batch (3 rows, padded to 6)      real tokens   slots
    a1 a2 a3 b1 b2 P                       5             6
    c1 c2 c3 c4 c5 c6                      6             6
    d1 d2 P  P  P  P                       2             6      -> 13 / 18 = 72.2%

Counting happens in the training process, in a wrap of `trainer.training_step`:
collation runs in dataloader workers (Axolotl's `dataloader_num_workers`
defaults to 1), where counters would be lost. The real tokens of a batch come
from, in this order:

1. `packbench_row_tokens`, each row's real length, which the plugin's collator
   adds to training batches (popped here, so the model never sees it);
2. a 2-D `attention_mask` (Axolotl's collators: 0 on padding);
3. else where positions restart: a row's last segment is padding when all its
   tokens are the pad token and none is trained (Axolotl pads `position_ids`
   with a fresh 0, 1, 2, ... run); a batch with none of these is not counted.

Each process counts its own steps; the run metrics (written by the first
process) keep the first process's count.
"""

from __future__ import annotations

import functools
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from axolotl_packing_bench.plugin.rows import IGNORE_INDEX

if TYPE_CHECKING:
    import torch

ROW_TOKENS_KEY = "packbench_row_tokens"
"""Batch key of each row's real token count; popped before the model's forward."""


def row_tokens_tensor(lengths: list[int]) -> torch.Tensor:
    """The `packbench_row_tokens` entry of a batch: int64 real tokens of each row."""
    import torch

    return torch.as_tensor(lengths, dtype=torch.long)


def trailing_padding(
    input_ids: torch.Tensor, position_ids: torch.Tensor, labels: torch.Tensor | None, pad_token_id: int
) -> int:
    """Padding tokens of a batch whose padding is each row's last segment (positions restart at 0 for it).

    That last segment counts as padding only when every token of it is the pad token and none is trained.
    """
    import torch

    length = input_ids.shape[-1]
    columns = torch.arange(length, device=input_ids.device)
    last = (columns * (position_ids == 0)).amax(dim=-1)  # where each row's last segment begins (0: no restart)
    tail = columns[None, :] >= last[:, None]
    pad_like = input_ids == pad_token_id
    if labels is not None:
        pad_like &= labels == IGNORE_INDEX
    is_padding = (~tail | pad_like).all(dim=-1)
    return int(torch.where(is_padding, length - last, torch.zeros_like(last)).sum())


def batch_real_tokens(inputs: MutableMapping[str, Any], pad_token_id: int | None) -> int | None:
    """The real (non-pad) tokens of one batch, popping `packbench_row_tokens`; None when they cannot be told."""
    import torch

    counts = inputs.pop(ROW_TOKENS_KEY, None)
    if counts is not None:
        return int(torch.as_tensor(counts).sum())
    mask = inputs.get("attention_mask")
    if torch.is_tensor(mask) and mask.dim() == 2:
        return int((mask != 0).sum())
    input_ids, positions = inputs.get("input_ids"), inputs.get("position_ids")
    if pad_token_id is None or not torch.is_tensor(input_ids) or not torch.is_tensor(positions):
        return None
    labels = inputs.get("labels")
    padding = trailing_padding(input_ids, positions, labels if torch.is_tensor(labels) else None, pad_token_id)
    return int(input_ids.numel()) - padding


@dataclass
class BatchTokens:
    """Real tokens and token slots of the micro batches this process trained on."""

    micro_batches: int = 0
    real_tokens: int = 0
    token_slots: int = 0
    uncounted: int = 0

    def add(self, inputs: MutableMapping[str, Any], pad_token_id: int | None) -> None:
        """Count one micro batch (and pop `packbench_row_tokens` from it)."""
        import torch

        real = batch_real_tokens(inputs, pad_token_id)
        input_ids = inputs.get("input_ids")
        self.micro_batches += 1
        if real is None or not torch.is_tensor(input_ids):
            self.uncounted += 1
            return
        self.real_tokens += real
        self.token_slots += int(input_ids.numel())

    @property
    def efficiency(self) -> float | None:
        """Real tokens / token slots, or None when nothing was counted or a batch could not be."""
        if self.uncounted or not self.token_slots:
            return None
        return self.real_tokens / self.token_slots

    def summary(self) -> dict[str, Any]:
        """The `packing` fields of the run metrics: `trainer_efficiency` and `trainer_batches` ({} before a step)."""
        if not self.micro_batches:
            return {}
        efficiency = self.efficiency
        return {
            "trainer_efficiency": None if efficiency is None else round(efficiency, 6),
            "trainer_batches": {
                "micro_batches": self.micro_batches,
                "real_tokens": self.real_tokens,
                "token_slots": self.token_slots,
                "uncounted": self.uncounted,
            },
        }


def install_batch_counter(trainer: Any, counter: BatchTokens) -> BatchTokens:
    """Wrap `trainer.training_step` so that every micro batch it trains on is counted into `counter`."""
    tokenizer = getattr(trainer, "processing_class", None) or getattr(trainer, "tokenizer", None)
    pad_token_id = getattr(tokenizer, "pad_token_id", None)
    training_step = trainer.training_step

    @functools.wraps(training_step)
    def training_step_counting_tokens(model, inputs, *args, **kwargs):
        counter.add(inputs, pad_token_id)
        return training_step(model, inputs, *args, **kwargs)

    trainer.training_step = training_step_counting_tokens
    return counter
