"""Pre-train a tiny base on the synthetic world's corpus, deterministically, on a CPU.

A plain torch loop, not Axolotl: the bases are assets, built once and cached,
and a loop this small is faster to start and easier to make bit-reproducible.
Each step draws fresh documents from `corpus` (never repeated, so the model
cannot memorize its way through), pads them on the right (causal attention
never looks at the padding, so no mask is needed) and computes the loss only
where `corpus` marks a token as trained, projecting just those positions
through the output layer: on a 3.6K-word vocabulary that projection is most of
a step's cost.

Reproducibility: weights start from `MODEL_SEED`, documents come from
``(seed, index)``, and the loop runs on one CPU thread, so the same recipe
gives the same bytes for the same torch version whatever the machine's core
count. One thread per base also keeps a busy machine from stalling the
build (OpenMP threads spin when oversubscribed); `api.ensure_models` builds
the bases side by side instead, one process each.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from axolotl_packing_bench.assets import corpus

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

# One thread: the weights do not depend on the machine's core count (see the module docstring).
BUILD_THREADS = 1
# Batches drawn together and bucketed by length.
BUCKET_STEPS = 8


@dataclass(frozen=True)
class PretrainRecipe:
    """How a base is pre-trained; every field is part of the asset's content hash.

    Attributes:
        steps: Optimizer steps.
        batch_size: Documents per step.
        learning_rate: Peak AdamW learning rate.
        warmup_steps: Linear warm-up steps, then cosine decay to 10% of the peak.
        weight_decay: AdamW weight decay.
        corpus_seed: Seed of the corpus documents.
        max_tokens: Documents are cut to this many tokens.
    """

    steps: int
    batch_size: int = 32
    learning_rate: float = 3e-3
    warmup_steps: int = 50
    weight_decay: float = 0.01
    corpus_seed: int = 0
    max_tokens: int = 256

    def digest(self) -> str:
        """A short hash of the recipe and of the corpus's mix."""
        payload = json.dumps({"recipe": asdict(self), "kinds": corpus.KINDS, "mix": corpus.MIX}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]


class DocumentEncoder:
    """Turns corpus pieces into ``(input_ids, trained)`` lists with the embedded tokenizer."""

    def __init__(self, tokenizer: PreTrainedTokenizerFast) -> None:
        self.tokenizer = tokenizer
        self._special = {
            token: tokenizer.convert_tokens_to_ids(token)
            for token in ("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")
        }

    def encode(self, documents: list[list[corpus.Piece]], max_tokens: int) -> list[tuple[list[int], list[bool]]]:
        texts = [piece.text for pieces in documents for piece in pieces if not piece.special]
        encoded = iter(self.tokenizer(texts, add_special_tokens=False).input_ids) if texts else iter(())
        out = []
        for pieces in documents:
            ids: list[int] = []
            trained: list[bool] = []
            for piece in pieces:
                piece_ids = [self._special[piece.text]] if piece.special else next(encoded)
                ids += piece_ids
                trained += [piece.trained] * len(piece_ids)
            out.append((ids[:max_tokens], trained[:max_tokens]))
        return out


def _batch(encoded: list[tuple[list[int], list[bool]]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids and the targets (-100 where nothing is trained), shifted for next-token loss."""
    import torch

    width = max(len(ids) for ids, _ in encoded)
    ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)
    targets = torch.full((len(encoded), width), -100, dtype=torch.long)
    for row, (tokens, trained) in enumerate(encoded):
        ids[row, : len(tokens)] = torch.tensor(tokens)
        labels = torch.tensor([t if keep else -100 for t, keep in zip(tokens, trained, strict=True)])
        targets[row, : len(tokens) - 1] = labels[1:]
    return ids, targets


def batches(
    recipe: PretrainRecipe, encoder: DocumentEncoder, pad_id: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``recipe.steps`` batches of fresh documents, bucketed by length to keep padding low.

    Documents are drawn `BUCKET_STEPS` batches at a time, sorted by length,
    cut into batches, and those batches visited in a seeded random order.
    """
    size = recipe.batch_size
    for first_step in range(0, recipe.steps, BUCKET_STEPS):
        count = min(BUCKET_STEPS, recipe.steps - first_step)
        first = first_step * size
        documents = [corpus.document(first + i, seed=recipe.corpus_seed)[1] for i in range(count * size)]
        encoded = sorted(encoder.encode(documents, recipe.max_tokens), key=lambda pair: len(pair[0]))
        order = list(range(count))
        random.Random(f"order:{recipe.corpus_seed}:{first_step}").shuffle(order)
        for index in order:
            yield _batch(encoded[index * size : (index + 1) * size], pad_id)


def masked_loss(model: PreTrainedModel, ids: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean next-token loss over trained positions, projecting only those through the output layer."""
    import torch.nn.functional as F

    hidden = model.model(input_ids=ids, use_cache=False).last_hidden_state
    keep = targets != -100
    logits = model.lm_head(hidden[keep])
    return F.cross_entropy(logits.float(), targets[keep])


def _learning_rate(recipe: PretrainRecipe, step: int) -> float:
    if step < recipe.warmup_steps:
        return recipe.learning_rate * (step + 1) / recipe.warmup_steps
    progress = (step - recipe.warmup_steps) / max(recipe.steps - recipe.warmup_steps, 1)
    return recipe.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def pretrain(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerFast,
    recipe: PretrainRecipe,
    *,
    progress: Callable[[int, int, float], None] | None = None,
) -> dict[str, Any]:
    """Pre-train ``model`` in place; returns the loss curve and timing.

    Args:
        model: A Llama causal LM on the CPU, in float32.
        tokenizer: The embedded tokenizer.
        recipe: Steps, batch size and optimizer settings.
        progress: Called as ``progress(step, steps, loss)`` after each step.
    """
    import torch

    encoder = DocumentEncoder(tokenizer)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(BUILD_THREADS)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=recipe.learning_rate, betas=(0.9, 0.98), weight_decay=recipe.weight_decay
    )
    model.train()
    losses: list[float] = []
    started = time.perf_counter()
    try:
        for step, (ids, targets) in enumerate(batches(recipe, encoder, tokenizer.pad_token_id)):
            for group in optimizer.param_groups:
                group["lr"] = _learning_rate(recipe, step)
            loss = masked_loss(model, ids, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            losses.append(float(loss.detach()))
            if progress is not None:
                progress(step + 1, recipe.steps, losses[-1])
    finally:
        torch.set_num_threads(previous_threads)
    model.eval()
    tail = losses[-max(len(losses) // 10, 1) :]
    return {
        "recipe": asdict(recipe),
        "digest": recipe.digest(),
        "seconds": round(time.perf_counter() - started, 1),
        "first_loss": round(losses[0], 4) if losses else None,
        "final_loss": round(sum(tail) / len(tail), 4) if tail else None,
        "loss_every_50": [round(v, 4) for v in losses[::50]],
    }
