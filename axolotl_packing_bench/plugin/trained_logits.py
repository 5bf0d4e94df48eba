"""`packbench_trained_logits_only`: the output layer and the loss run only where a label is trained.

A causal LM sends every position through its vocabulary-sized output layer
(`lm_head`), and the loss then ignores each position whose next label is
-100: padding, prompts (system and user turns) and the last token of every
segment. Here the training loss gathers the hidden states of the scored
positions first and projects only those, so the logits it reads are the same
numbers (each is one row times the same weights), the loss and the gradients
the same up to float rounding, for a fraction of the output layer's and the
log-softmax's cost.

    input_ids      a1  a2  a3  b1  b2  P   P
    labels         -   a2  a3  -   b2  -   -
    scored         x   x           x                 (the logits at t predict the label at t + 1)
    lm_head        h0  h1          h3            ->  logits (3, vocab) instead of (7, vocab)

The loss reads the compact logits two ways:

- `packbench_loss: token`, the model's own loss: the batch also carries
  `shift_labels`, the scored positions' targets in the same order, which
  transformers' causal LM loss takes as already-shifted labels; the trainer's
  item count, gradient accumulation and scaling across processes are
  untouched, so the loss is the one the full logits give.
- `packbench_loss: sample`: `plugin.loss.per_sample_loss` takes them as they are.

Only the training loss uses it (`Trainer.compute_loss` without
`return_outputs`, which is also how the equivalence check computes the run's
own loss). Evaluation, the leakage probe, held-out scoring and anything else
that calls the model gets every position's logits. It stays off, saying why
in the metrics (`trained_logits`), under label smoothing (which reads every
logit), on a model whose forward or loss is not transformers' own (Liger, Cut
Cross Entropy and Axolotl's chunked cross-entropy avoid the full logits their
own way) and, for the token loss, when the trainer brings its own loss
function (`compute_loss_func`, e.g. Axolotl's EAFT loss).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from axolotl_packing_bench.compat.transformers_api import (
    SHIFT_LABELS,
    has_stock_causal_lm_forward,
    has_stock_causal_lm_loss,
)
from axolotl_packing_bench.plugin.rows import IGNORE_INDEX

LOG = logging.getLogger("axolotl.packbench")

ARG = "packbench_trained_logits_only"


def scored_positions(labels: torch.Tensor) -> torch.Tensor:
    """Positions whose logits the loss reads: the next label is trained (the last position never is).

    labels [[-100, 5, 6, -100, 7]]  ->  [[True, True, False, True, False]]
    """
    keep = torch.zeros_like(labels, dtype=torch.bool)
    keep[..., :-1] = labels[..., 1:] != IGNORE_INDEX
    return keep


def scored_targets(labels: torch.Tensor) -> torch.Tensor:
    """The trained labels, shifted, in the order of the scored positions' logits."""
    shifted = labels[..., 1:]
    return shifted[shifted != IGNORE_INDEX]


class OutputLayerSelection:
    """A forward pre-hook on the output layer that keeps only the positions in `keep` while `selecting`."""

    def __init__(self, head: torch.nn.Module) -> None:
        self._keep: torch.Tensor | None = None
        self._ran = False
        self._handle = head.register_forward_pre_hook(self._select)

    def _select(self, module: torch.nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        keep = self._keep
        if keep is None or not args:  # not selecting (or an unexpected call: `selecting` then says so)
            return None
        hidden = args[0]
        if tuple(hidden.shape[:-1]) != tuple(keep.shape):
            raise RuntimeError(
                f"{ARG}: the output layer got hidden states of shape {tuple(hidden.shape)} for labels of shape "
                f"{tuple(keep.shape)} (a logits_to_keep or a patched forward?); set {ARG}: false"
            )
        self._ran = True
        return (hidden[keep.to(hidden.device)], *args[1:])

    @contextmanager
    def selecting(self, keep: torch.Tensor) -> Iterator[None]:
        """Project only `keep`'s positions during the block; the block must run the output layer."""
        self._keep, self._ran = keep, False
        try:
            yield
        finally:
            self._keep = None
        if not self._ran:
            raise RuntimeError(
                f"{ARG}: the model's forward never ran its output layer, so the loss cannot read the "
                f"trained positions only; set {ARG}: false"
            )

    def remove(self) -> None:
        self._handle.remove()


def unsupported_reason(trainer: Any, loss_mode: str) -> str | None:
    """Why the trainer's loss cannot use the trained positions only, or None when it can."""
    model = trainer.model
    if getattr(trainer, "label_smoother", None) is not None:
        return "label smoothing reads every position's logits"
    if not has_stock_causal_lm_forward(model):
        name = type(model).__name__
        return f"{name}.forward is not transformers' own (a fused or patched forward: Liger, Cut Cross Entropy)"
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if not isinstance(head, torch.nn.Module):
        return "the model has no output layer (get_output_embeddings)"
    if loss_mode == "token":  # the model's own loss reads the logits
        if getattr(trainer, "compute_loss_func", None) is not None:
            return "the trainer computes the loss with its own function (compute_loss_func)"
        if not has_stock_causal_lm_loss(model):
            return "the model's loss is not transformers' ForCausalLMLoss (a patched loss)"
    return None


def install_trained_logits(
    trainer: Any, *, loss_mode: str, report: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """Make `trainer`'s training loss project only the trained positions through the output layer.

    Install after `plugin.loss.install_sample_loss` when the loss is `sample`.
    `report` gets the figures (`enabled`, `scored_positions`, `positions`,
    `scored_fraction`) after every training micro-batch; returns the first ones,
    or `{"enabled": False, "reason": ...}` when the trainer cannot use it.
    """
    reason = unsupported_reason(trainer, loss_mode)
    if reason is not None:
        LOG.warning("packbench: %s is off for this run: %s", ARG, reason)
        figures: dict[str, Any] = {"enabled": False, "reason": reason}
        if report:
            report(figures)
        return figures
    selection = OutputLayerSelection(trainer.model.get_output_embeddings())
    counts = {"scored_positions": 0, "positions": 0}
    compute_loss = trainer.compute_loss
    model_loss = loss_mode == "token"

    def summary() -> dict[str, Any]:
        total = counts["positions"]
        fraction = round(counts["scored_positions"] / total, 4) if total else None
        return {"enabled": True, **counts, "scored_fraction": fraction}

    @functools.wraps(compute_loss)
    def compute_loss_on_trained_positions(model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.get("labels")
        if return_outputs or labels is None or SHIFT_LABELS in inputs:
            return compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)
        keep = scored_positions(labels)
        if model_loss:  # it reads the kept logits' targets; the per-sample loss reads the labels itself
            inputs = {**inputs, SHIFT_LABELS: scored_targets(labels)}
        with selection.selecting(keep):
            loss = compute_loss(model, inputs, num_items_in_batch=num_items_in_batch)
        if model.training:
            counts["scored_positions"] += int(keep.sum())
            counts["positions"] += keep.numel()
            if report:
                report(summary())
        return loss

    trainer.compute_loss = compute_loss_on_trained_positions
    LOG.info("packbench: the training loss projects only trained positions through the output layer (%s)", ARG)
    figures = summary()
    if report:
        report(figures)
    return figures
