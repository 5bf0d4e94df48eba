"""The packing-equivalence check: a packed batch trains exactly as the same samples padded.

Once, when training begins (before the first optimizer step), the first batch
the trainer would build from the packed rows (the rows with the most segments)
is run forward and backward twice:

- **packed**: as training runs it (the plugin's collator, the model's attention);
- **padded**: every segment of those rows alone in its own right-padded row,
  with a padding mask, on plain sdpa, positions from 0.

Both give the loss of the same trained tokens and the gradient of every
parameter. With isolated attention they must agree to rounding:

    relative loss difference  |L_packed - L_padded| / |L_padded|  <= LOSS_RTOL
    gradient cosine           <g_packed, g_padded> / (|g_packed| |g_padded|) >= MIN_COSINE

for both loss averages (`token`: the mean over trained tokens; `sample`: the
mean of each sample's mean, `plugin.loss`). Shared attention lets later
segments see earlier ones, so it fails the check by design (`expected:
false`). An Axolotl / transformers / torch upgrade that silently breaks
isolation or loss normalisation fails it too; `packbench compare` gates it.

Tolerances (fp32, measured: packed and padded differ by ~1e-7 relative in the
loss and by ~1e-10 in 1 - cosine on the tiny models; shared attention differs
by > 1e-4 and < 1 - 1e-4): LOSS_RTOL 1e-5, MIN_COSINE 1 - 1e-6. Half-precision
kernels round far more, so below fp32 the tolerances are HALF_LOSS_RTOL and
HALF_MIN_COSINE.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from axolotl_packing_bench.constants import NATIVE
from axolotl_packing_bench.plugin.loss import SEGMENT_KEY, per_sample_loss, segment_ids_for_rows
from axolotl_packing_bench.plugin.rows import IGNORE_INDEX

LOSS_RTOL = 1e-5
MIN_COSINE = 1 - 1e-6
HALF_LOSS_RTOL = 1e-2
HALF_MIN_COSINE = 0.999
MODES = ("token", "sample")


@dataclass(frozen=True)
class ModeCheck:
    """One loss average's packed-vs-padded figures."""

    mode: str
    loss_packed: float
    loss_padded: float
    loss_rel_diff: float
    grad_cosine: float
    passed: bool


@dataclass(frozen=True)
class EquivalenceReport:
    """The check over every loss average; `passed` is what happened, `expected` what the attention promises."""

    attention: str
    rows: int
    segments: int
    dtype: str
    loss_rtol: float
    min_cosine: float
    checks: tuple[ModeCheck, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def expected(self) -> bool:
        return self.attention == "isolated"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["checks"] = [asdict(check) for check in self.checks]
        data.update(
            passed=self.passed,
            expected=self.expected,
            max_loss_rel_diff=max((c.loss_rel_diff for c in self.checks), default=None),
            min_grad_cosine=min((c.grad_cosine for c in self.checks), default=None),
        )
        return data


def padded_batch(
    batch: dict[str, torch.Tensor], row_segments: Sequence[Sequence[int]], pad_token_id: int = 0
) -> dict[str, torch.Tensor]:
    """Every segment of the packed `batch` alone in its own right-padded row, with a padding mask."""
    pieces = []
    for row, lengths in enumerate(row_segments):
        start = 0
        for length in lengths:
            if length:
                pieces.append(
                    (batch["input_ids"][row, start : start + length], batch["labels"][row, start : start + length])
                )
            start += length
    width = max(len(ids) for ids, _ in pieces)
    out = {
        "input_ids": torch.full((len(pieces), width), pad_token_id, dtype=torch.long),
        "labels": torch.full((len(pieces), width), IGNORE_INDEX, dtype=torch.long),
        "attention_mask": torch.zeros((len(pieces), width), dtype=torch.long),
        "position_ids": torch.arange(width).repeat(len(pieces), 1),
    }
    for row, (ids, labels) in enumerate(pieces):
        out["input_ids"][row, : len(ids)] = ids
        out["labels"][row, : len(ids)] = labels
        out["attention_mask"][row, : len(ids)] = 1
    return out


def _loss(logits: torch.Tensor, labels: torch.Tensor, segment_ids: torch.Tensor, mode: str) -> torch.Tensor:
    if mode == "sample":
        return per_sample_loss(logits, labels, segment_ids)
    targets = labels[..., 1:].reshape(-1)
    nll = torch.nn.functional.cross_entropy(
        logits[..., :-1, :].reshape(-1, logits.shape[-1]).float(), targets, ignore_index=IGNORE_INDEX, reduction="sum"
    )
    return nll / (targets != IGNORE_INDEX).sum().clamp(min=1)


def _loss_and_grad(
    model: torch.nn.Module,
    inputs: dict[str, torch.Tensor],
    labels: torch.Tensor,
    segment_ids: torch.Tensor,
    mode: str,
    loss_fn: Any = None,
) -> tuple[float, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    if loss_fn is not None:
        loss = loss_fn(model, inputs, labels, segment_ids)
    else:
        loss = _loss(model(**inputs, use_cache=False).logits, labels, segment_ids, mode)
    loss.backward()
    grads = [
        p.grad.detach().reshape(-1).double()
        if p.grad is not None
        else torch.zeros(p.numel(), dtype=torch.float64, device=p.device)
        for p in model.parameters()
        if p.requires_grad
    ]
    model.zero_grad(set_to_none=True)
    return float(loss.detach()), torch.cat(grads)


def check_equivalence(
    model: torch.nn.Module,
    batch: dict[str, torch.Tensor],
    row_segments: Sequence[Sequence[int]],
    *,
    attention: str,
    modes: Sequence[str] = MODES,
    pad_token_id: int = 0,
    own_mode: str | None = None,
    own_loss: Any = None,
) -> EquivalenceReport:
    """Packed vs padded loss and gradient of `batch` (a collated batch of packed rows) for each loss average.

    `own_loss(model, inputs, labels, segment_ids)`, when given, computes the
    packed loss of `own_mode` (the run's own average) the way training does,
    e.g. through the trainer's `compute_loss`, so its normalisation is checked
    against the padded reference too. The model's weights are untouched and
    its gradients are left cleared; it runs in eval mode (no dropout) and goes
    back to the mode it was in.
    """
    from axolotl_packing_bench.plugin.segment_attention import plain_sdpa

    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    full = dtype == torch.float32 or dtype == torch.float64
    rtol, min_cosine = (LOSS_RTOL, MIN_COSINE) if full else (HALF_LOSS_RTOL, HALF_MIN_COSINE)
    packed = {
        key: value.to(device)
        for key, value in batch.items()
        if key in ("input_ids", "position_ids", "attention_mask") and torch.is_tensor(value)
    }
    labels = batch["labels"].to(device)
    segments = segment_ids_for_rows([list(lengths) for lengths in row_segments], labels.shape[1]).to(device)
    padded = {key: value.to(device) for key, value in padded_batch(batch, row_segments, pad_token_id).items()}
    padded_labels = padded.pop("labels")
    padded_segments = torch.where(
        padded["attention_mask"].bool(),
        torch.arange(len(padded_labels), device=device)[:, None],
        torch.tensor(-1, device=device),
    )
    was_training = model.training
    model.eval()
    checks = []
    try:
        for mode in modes:
            own = own_loss if mode == own_mode else None
            loss_p, grad_p = _loss_and_grad(model, packed, labels, segments, mode, own)
            with plain_sdpa(model):
                loss_u, grad_u = _loss_and_grad(model, padded, padded_labels, padded_segments, mode)
            rel = abs(loss_p - loss_u) / abs(loss_u) if loss_u else abs(loss_p)
            norm = float(grad_p.norm() * grad_u.norm())
            cosine = float(grad_p @ grad_u) / norm if norm else 0.0
            checks.append(ModeCheck(mode, loss_p, loss_u, rel, cosine, rel <= rtol and cosine >= min_cosine))
    finally:
        model.train(was_training)
    return EquivalenceReport(
        attention,
        len(row_segments),
        len(padded_labels),
        str(dtype).replace("torch.", ""),
        rtol,
        min_cosine,
        tuple(checks),
    )


def first_packed_batch(trainer: Any) -> tuple[dict[str, torch.Tensor], list[list[int]]] | None:
    """The trainer's batch of the rows with the most segments, and their segment lengths (None: no `seq_lens`)."""
    from axolotl_packing_bench.plugin.callbacks import probe_batches

    if "seq_lens" not in trainer.train_dataset.column_names:
        return None
    batch, segments = next(probe_batches(trainer, num_batches=1))
    batch.pop(SEGMENT_KEY, None)
    return batch, segments


def trainer_loss(trainer: Any, *, sample: bool) -> Any:
    """The trainer's own loss on a packed batch (its `compute_loss`, so the run's loss normalisation is checked)."""

    def loss(
        model: torch.nn.Module, inputs: dict[str, torch.Tensor], labels: torch.Tensor, segment_ids: torch.Tensor
    ) -> torch.Tensor:
        batch = {**inputs, "labels": labels}
        if sample:
            batch[SEGMENT_KEY] = segment_ids  # `packbench_loss: sample` pops it before the forward
        return trainer.compute_loss(model, batch)

    return loss


def run_check(cfg: Any, trainer: Any, model: torch.nn.Module) -> dict[str, Any]:
    """The check on the trainer's first packed batch, as recorded in the run metrics (`equivalence`)."""
    if cfg.packbench_strategy == NATIVE:
        return {"skipped": "packbench_strategy native: Axolotl packs the rows, there are no plugin rows to compare"}
    if int(getattr(trainer.args, "world_size", 1) or 1) > 1:
        return {"skipped": "more than one process: the check runs on a single process"}
    found = first_packed_batch(trainer)
    if found is None:
        return {"skipped": "the training rows carry no seq_lens"}
    batch, segments = found
    tokenizer = getattr(trainer, "processing_class", None)
    pad = getattr(tokenizer, "pad_token_id", None)
    report = check_equivalence(
        model,
        batch,
        segments,
        attention=cfg.packbench_attention,
        pad_token_id=pad or 0,
        own_mode=cfg.packbench_loss,
        own_loss=trainer_loss(trainer, sample=cfg.packbench_loss == "sample"),
    )
    return report.to_dict()
