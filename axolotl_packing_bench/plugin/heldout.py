"""Held-out loss: the quality figure every cell reports, measured the same way for every strategy.

After training, the model scores a fixed held-out file of chats (never seen in
training) **unpacked**: one chat per row, right-padded batches with a padding
mask, plain sdpa (a model switched to per-segment attention for training is
switched back while it is scored), loss on the assistant turns only (each
turn's content and its end-of-turn token, as Axolotl's chat_template
strategy trains them), averaged over every scored token. Nothing in it depends
on how the cell packed its training rows, so padding's figure and every
packer's compare like with like. It is not the training loss.

    chat       <bos><user>...question...<eot><assistant>...answer...<eot>
    scored                                                ^^^^^^^^^^^^^^^

The file is any chat JSONL/JSON that `packbench stats` reads (OpenAI
``messages``, ShareGPT ``conversations`` or Alpaca), e.g. the embedded
``packbench://heldout-chats`` (`constants.HELDOUT_CHATS_URI`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transformers import TrainerCallback

if TYPE_CHECKING:
    import torch

LOG = logging.getLogger("axolotl.packbench")


class HeldoutDataError(ValueError):
    """The held-out file cannot be scored; one sentence naming it and the fix."""


def assistant_spans(tokenizer: Any, messages: Sequence[dict[str, str]]) -> tuple[str, list[tuple[int, int]]]:
    """The rendered chat and the character spans of each assistant reply (with its end of turn)."""
    text = tokenizer.apply_chat_template(list(messages), tokenize=False)
    spans = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prompt = tokenizer.apply_chat_template(list(messages[:index]), tokenize=False, add_generation_prompt=True)
        upto = tokenizer.apply_chat_template(list(messages[: index + 1]), tokenize=False)
        if not (text.startswith(upto) and upto.startswith(prompt)):
            raise HeldoutDataError(
                "the tokenizer's chat template does not render a chat as a prefix of its "
                "continuation; held-out loss needs a template that appends turns."
            )
        spans.append((len(prompt), len(upto)))
    return text, spans


def encode_chats(
    tokenizer: Any, chats: Sequence[Sequence[dict[str, str]]], *, max_tokens: int
) -> list[tuple[list[int], list[int]]]:
    """``(input_ids, labels)`` per chat: labels are the ids on assistant replies, -100 elsewhere."""
    out = []
    for messages in chats:
        text, spans = assistant_spans(tokenizer, messages)
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids = list(encoded["input_ids"])[:max_tokens]
        labels = [
            token if any(start <= begin and end <= stop for start, stop in spans) and end > begin else -100
            for token, (begin, end) in zip(ids, encoded["offset_mapping"], strict=False)
        ]
        if any(label != -100 for label in labels[1:]):
            out.append((ids, labels))
    return out


def load_heldout(
    path: str | Path, tokenizer: Any, *, max_samples: int | None, max_tokens: int
) -> list[tuple[list[int], list[int]]]:
    """The held-out chats of ``path``, encoded; raises `HeldoutDataError` with one sentence."""
    from axolotl_packing_bench.constants import HELDOUT_CHATS_URI
    from axolotl_packing_bench.data.lengths import LengthsInputError, read_records, to_messages

    path = Path(path)
    if not path.is_file():
        raise HeldoutDataError(
            f"held-out file {str(path)!r} does not exist; set packbench_heldout to a chat "
            f"JSONL, e.g. {HELDOUT_CHATS_URI}."
        )
    try:
        records = read_records(path)
        chats = [to_messages(record, f"record {i + 1} of {path.name}") for i, record in enumerate(records)]
    except LengthsInputError as error:
        raise HeldoutDataError(f"held-out file: {error}") from None
    if max_samples:
        chats = chats[:max_samples]
    encoded = encode_chats(tokenizer, chats, max_tokens=max_tokens)
    if not encoded:
        raise HeldoutDataError(
            f"held-out file {path.name} has no assistant reply to score; give it chats with assistant turns."
        )
    return encoded


def heldout_loss(model: Any, encoded: Sequence[tuple[list[int], list[int]]], *, batch_size: int = 16) -> dict[str, Any]:
    """Token-mean loss of ``model`` on ``encoded`` chats, one chat per row.

    Returns:
        ``{"loss", "tokens", "samples", "seconds"}``; ``loss`` is in nats per
        scored token.
    """
    import torch
    import torch.nn.functional as F

    from axolotl_packing_bench.plugin.segment_attention import plain_sdpa

    started = time.perf_counter()
    device = next(model.parameters()).device
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]))  # little padding per batch
    total, count = 0.0, 0
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), plain_sdpa(model):
            for start in range(0, len(order), batch_size):
                chunk = [encoded[i] for i in order[start : start + batch_size]]
                ids, labels, mask = _padded(chunk)
                logits = model(input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=False).logits
                targets = labels[:, 1:].to(device)
                loss = F.cross_entropy(
                    logits[:, :-1].float().reshape(-1, logits.shape[-1]),
                    targets.reshape(-1),
                    ignore_index=-100,
                    reduction="sum",
                )
                total += float(loss)
                count += int((targets != -100).sum())
    finally:
        model.train(was_training)
    return {
        "loss": round(total / count, 6) if count else math.nan,
        "tokens": count,
        "samples": len(encoded),
        "seconds": round(time.perf_counter() - started, 2),
    }


def _padded(chunk: Sequence[tuple[list[int], list[int]]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    import torch

    width = max(len(ids) for ids, _ in chunk)
    ids = torch.zeros((len(chunk), width), dtype=torch.long)
    labels = torch.full((len(chunk), width), -100, dtype=torch.long)
    mask = torch.zeros((len(chunk), width), dtype=torch.long)
    for row, (tokens, targets) in enumerate(chunk):
        ids[row, : len(tokens)] = torch.tensor(tokens)
        labels[row, : len(targets)] = torch.tensor(targets)
        mask[row, : len(tokens)] = 1
    return ids, labels, mask


class HeldoutLossCallback(TrainerCallback):
    """Scores the held-out chats when training ends and records ``heldout`` in the run metrics.

    The file is read and tokenized when training begins, so a bad file fails
    the run before any step rather than after all of them.
    """

    def __init__(self, *, cfg: Any, trainer: Any, recorder: Any) -> None:
        self.cfg = cfg
        self.trainer = trainer
        self.recorder = recorder
        self.encoded: list[tuple[list[int], list[int]]] | None = None
        self.source = str(cfg.packbench_heldout)

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        from axolotl_packing_bench.assets import resolve_asset_uri

        path = resolve_asset_uri(str(self.cfg.packbench_heldout))
        tokenizer = self.trainer.processing_class
        self.encoded = load_heldout(
            path, tokenizer, max_samples=self.cfg.packbench_heldout_max_samples, max_tokens=int(self.cfg.sequence_len)
        )

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero or self.encoded is None:
            return
        figures = heldout_loss(
            model if model is not None else self.trainer.model,
            self.encoded,
            batch_size=self.cfg.packbench_heldout_batch_size,
        )
        self.recorder.update(heldout={"source": self.source, **figures})
        LOG.info(
            "packbench: held-out loss %.4f over %d tokens of %d chats (%.2fs)",
            figures["loss"],
            figures["tokens"],
            figures["samples"],
            figures["seconds"],
        )
