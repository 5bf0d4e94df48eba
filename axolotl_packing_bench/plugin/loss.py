"""`packbench_loss: sample`: every sample weighs the same in the loss, however long.

With packing, the usual token-level mean over a batch lets long samples
dominate: a 2,000-token answer carries 100 times the weight of a 20-token
one. LongAlign's fix is to average each sample's mean token loss instead:

    token  (default):  sum over all trainable tokens of nll / number of tokens
    sample:            sum over samples s of mean_{t in s} nll_t / number of samples

Under gradient accumulation the number of samples is counted over the whole
accumulated batch (the trainer's `num_items_in_batch`, which this module
makes count samples instead of tokens), so accumulating micro-batches gives
the same gradient as one large batch.

A sample is a segment of a packed row (a whole sample, or a piece of one
under the `random` strategy or `overflow: split`), identified per token by
`packbench_segment_ids`, which the collator adds and the trainer wrapper
removes before the model's forward.
"""

from __future__ import annotations

import functools
from typing import Any

import torch

from axolotl_packing_bench.compat.transformers_api import count_items_with
from axolotl_packing_bench.plugin.rows import IGNORE_INDEX

SEGMENT_KEY = "packbench_segment_ids"
"""Batch key of the per-token segment ids; never passed to the model."""

LOSS_MODES = ("token", "sample")


def segment_ids_for_rows(seq_lens: list[list[int]], length: int) -> torch.Tensor:
    """Per-token segment ids of a batch, unique across its rows; -1 on padding.

    seq_lens [[3, 2], [4]], length 5  ->  [[0, 0, 0, 1, 1], [2, 2, 2, 2, -1]]
    """
    ids = torch.full((len(seq_lens), length), -1, dtype=torch.long)
    next_id = 0
    for row, lengths in enumerate(seq_lens):
        position = 0
        for segment_length in lengths:
            ids[row, position : position + segment_length] = next_id
            position += segment_length
            next_id += 1
    return ids


def _targets(labels: torch.Tensor, segment_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Shifted targets and their segments: the logits at t predict the label at t + 1."""
    return labels[..., 1:].reshape(-1), segment_ids[..., 1:].reshape(-1)


def count_samples(labels: torch.Tensor, segment_ids: torch.Tensor) -> int:
    """Segments with at least one trainable (shifted) target token."""
    targets, segments = _targets(labels, segment_ids)
    return int(torch.unique(segments[targets != IGNORE_INDEX]).numel())


def per_sample_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    segment_ids: torch.Tensor,
    num_samples: int | torch.Tensor | None = None,
) -> torch.Tensor:
    """Sum of each sample's mean token loss, divided by `num_samples`.

    Args:
        logits: (batch, length, vocab); or (trained, vocab), the logits of the
            trained positions only, in batch order (`plugin.trained_logits`).
        labels: (batch, length), -100 where nothing is trained.
        segment_ids: (batch, length) sample of each token, unique in the batch.
        num_samples: the divisor, e.g. samples in the whole accumulated batch;
            None: the samples with a trained token in this batch.
    """
    targets, segments = _targets(labels, segment_ids.to(labels.device))
    trained = targets != IGNORE_INDEX
    if not bool(trained.any()):
        return logits.sum() * 0.0  # keeps the graph, zero gradient
    if logits.dim() == 2:  # already only the trained positions
        nll = torch.nn.functional.cross_entropy(logits.float(), targets[trained], reduction="none")
    else:
        nll = torch.nn.functional.cross_entropy(
            logits[..., :-1, :].reshape(-1, logits.shape[-1]).float(),
            targets,
            ignore_index=IGNORE_INDEX,
            reduction="none",
        )[trained]
    present, inverse = torch.unique(segments[trained], return_inverse=True)
    sums = torch.zeros(present.numel(), dtype=nll.dtype, device=nll.device).index_add_(0, inverse, nll)
    counts = torch.zeros_like(sums).index_add_(0, inverse, torch.ones_like(nll))
    divisor = present.numel() if num_samples is None else num_samples
    if torch.is_tensor(divisor):
        divisor = divisor.to(sums.device, sums.dtype)
    return (sums / counts).sum() / divisor


def install_sample_loss(trainer: Any) -> None:
    """Make `trainer` train on the per-sample loss.

    Three small wraps of the Hugging Face trainer instance:
    `compute_loss` pops the segment ids before the model sees the batch,
    `compute_loss_func` computes `per_sample_loss`, and
    the trainer's item count (`compat.transformers_api.count_items_with`) counts samples (not tokens) in the accumulated
    batch, gathered across processes like the token count it replaces.
    """
    pending: dict[str, torch.Tensor] = {}
    compute_loss = trainer.compute_loss

    @functools.wraps(compute_loss)
    def compute_loss_popping_segments(model, inputs, return_outputs=False, num_items_in_batch=None):
        segment_ids = inputs.pop(SEGMENT_KEY, None)
        if segment_ids is None:
            raise RuntimeError(
                f"packbench_loss: sample needs {SEGMENT_KEY} in every batch, and this one has none; "
                "use the plugin's collator (any packbench_strategy but native)"
            )
        pending["segment_ids"] = segment_ids
        if num_items_in_batch is None and model.training:
            # no accumulated count: this micro-batch's samples, times the steps the trainer adds up
            steps = (
                getattr(trainer, "current_gradient_accumulation_steps", None)
                or trainer.args.gradient_accumulation_steps
            )
            num_items_in_batch = max(count_samples(inputs["labels"], segment_ids), 1) * steps
        return compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)

    def sample_loss(outputs, labels, num_items_in_batch=None):
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
        return per_sample_loss(logits, labels, pending.pop("segment_ids"), num_items_in_batch)

    def count_accumulated_samples(batch_samples, device):
        total = sum(
            count_samples(batch["labels"], batch[SEGMENT_KEY])
            for batch in batch_samples
            if SEGMENT_KEY in batch and "labels" in batch
        )
        count = torch.tensor(total, device=device)
        args = trainer.args
        if args.average_tokens_across_devices and args.world_size > 1:
            count = trainer.accelerator.gather(count).sum()
        return count

    trainer.compute_loss = compute_loss_popping_segments
    trainer.compute_loss_func = sample_loss
    count_items_with(trainer, count_accumulated_samples)
