"""The training loss through the trained positions only equals the full-logits loss, on a real Trainer.

Tolerance (fp32, a random tiny Llama, transformers' own `Trainer.compute_loss`):
the loss within LOSS_RTOL relative, and every gradient entry within GRAD_RTOL
of the largest gradient entry. The output layer computes the kept rows with
the same weights either way; what differs is only the order in which float
sums run (the full path also adds the ignored positions' zero gradients).
Measured over these layouts, both losses and three seeds: the loss within
2.1e-7 relative, gradients within 4.5e-7 of the largest entry.
"""

from __future__ import annotations

import pytest
import torch

from axolotl_packing_bench.plugin.equivalence import padded_batch
from axolotl_packing_bench.plugin.loss import SEGMENT_KEY, count_samples, install_sample_loss, segment_ids_for_rows
from axolotl_packing_bench.plugin.segment_attention import register
from axolotl_packing_bench.plugin.trained_logits import (
    OutputLayerSelection,
    install_trained_logits,
    scored_positions,
    scored_targets,
)
from tests.plugin.conftest import packed_batch, tiny_llama

LOSS_RTOL = 1e-6
GRAD_RTOL = 1e-5
X = -100


def real_trainer(model, tmp_path, **arguments):
    from transformers import Trainer, TrainingArguments

    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none", **arguments)
    return Trainer(model=model, args=args)


def masked_prompts(batch: dict, seed: int) -> dict:
    """The batch with about 40% of its labels masked at random, as prompt turns are."""
    labels = batch["labels"].clone()
    generator = torch.Generator().manual_seed(seed)
    labels[torch.rand(labels.shape, generator=generator) < 0.4] = X
    return {**batch, "labels": labels}


def batch_for(layout: str, seed: int) -> tuple[dict, torch.Tensor, str]:
    """A random batch as the trainer gets it, its segment ids, and the attention backend it trains on."""
    if layout == "padded_with_mask":  # Axolotl's own collators: right padding and an attention mask
        batch, segments = packed_batch("isolated", "bfd", seed=seed)
        padded = padded_batch(batch, segments)
        mask = padded["attention_mask"].bool()
        ids = torch.where(mask, torch.arange(len(mask))[:, None], torch.tensor(-1))
        return masked_prompts(padded, seed), ids, "sdpa"
    strategy, attention, backend = {
        "padding": ("padding", "isolated", "sdpa"),
        "bfd_isolated": ("bfd", "isolated", register()),
        "greedy_shared": ("greedy", "shared", "sdpa"),
    }[layout]
    batch, segments = packed_batch(attention, strategy, seed=seed)
    return masked_prompts(batch, seed), segment_ids_for_rows(segments, batch["labels"].shape[1]), backend


def loss_and_grads(trainer, model, batch: dict, num_items) -> tuple[float, list[torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    loss = trainer.compute_loss(model, dict(batch), num_items_in_batch=num_items)
    loss.backward()
    grads = [p.grad.detach().clone() for p in model.parameters()]
    model.zero_grad(set_to_none=True)
    return float(loss.detach()), grads


@pytest.mark.parametrize("accumulated", [False, True])
@pytest.mark.parametrize("mode", ["token", "sample"])
@pytest.mark.parametrize("layout", ["padding", "bfd_isolated", "greedy_shared", "padded_with_mask"])
def test_loss_and_gradients_equal_the_full_logits(tmp_path, layout, mode, accumulated):
    batch, segment_ids, backend = batch_for(layout, seed=3)
    model = tiny_llama(backend).train()
    full, fast = real_trainer(model, tmp_path / "full"), real_trainer(model, tmp_path / "fast")
    if mode == "sample":
        install_sample_loss(full)
        install_sample_loss(fast)
        batch[SEGMENT_KEY] = segment_ids
    figures = install_trained_logits(fast, loss_mode=mode)
    assert figures["enabled"] is True
    num_items = None
    if accumulated:  # as if a second micro-batch of the same size were accumulated with this one
        count = count_samples(batch["labels"], segment_ids) if mode == "sample" else (batch["labels"][:, 1:] != X).sum()
        num_items = torch.tensor(2 * int(count))
    loss_full, grads_full = loss_and_grads(full, model, batch, num_items)
    loss_fast, grads_fast = loss_and_grads(fast, model, batch, num_items)
    assert loss_fast == pytest.approx(loss_full, rel=LOSS_RTOL)
    scale = max(float(g.abs().max()) for g in grads_full)
    worst = max(float((a - b).abs().max()) for a, b in zip(grads_fast, grads_full, strict=True))
    assert worst <= GRAD_RTOL * scale, (worst, scale)


def test_only_the_training_loss_is_compact(tmp_path):
    batch, _, backend = batch_for("bfd_isolated", seed=4)
    model = tiny_llama(backend).train()
    seen = []
    trainer = real_trainer(model, tmp_path)
    install_trained_logits(trainer, loss_mode="token", report=seen.append)
    labels = batch["labels"]
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    vocab = model.config.vocab_size
    assert model(**inputs).logits.shape == (*labels.shape, vocab)  # probes and held-out scoring: every position
    loss, outputs = trainer.compute_loss(model, dict(batch), return_outputs=True)  # evaluation: every position
    assert outputs.logits.shape == (*labels.shape, vocab)
    assert seen == [{"enabled": True, "scored_positions": 0, "positions": 0, "scored_fraction": None}]
    compact = trainer.compute_loss(model, dict(batch))
    assert float(compact.detach()) == pytest.approx(float(loss.detach()), rel=LOSS_RTOL)
    scored = int((labels[:, 1:] != X).sum())
    assert seen[-1] == {
        "enabled": True,
        "scored_positions": scored,
        "positions": labels.numel(),
        "scored_fraction": round(scored / labels.numel(), 4),
    }
    assert 0 < scored < labels.numel()


def test_scored_positions_and_their_targets_line_up():
    labels = torch.tensor([[X, 5, 6, X, 7], [X, X, 8, X, X]])
    assert scored_positions(labels).tolist() == [[True, True, False, True, False], [False, True, False, False, False]]
    assert scored_targets(labels).tolist() == [5, 6, 7, 8]  # the logits at t predict the label at t + 1


def test_label_smoothing_keeps_the_full_logits(tmp_path):
    model = tiny_llama("sdpa")
    figures = install_trained_logits(real_trainer(model, tmp_path, label_smoothing_factor=0.1), loss_mode="token")
    assert figures == {"enabled": False, "reason": "label smoothing reads every position's logits"}
    assert not model.lm_head._forward_pre_hooks


def fused_forward(self, *args, **kwargs):  # stands for Liger's or Cut Cross Entropy's replacement forward
    raise AssertionError("not called")


def test_a_patched_forward_keeps_the_full_logits(tmp_path, monkeypatch):
    model = tiny_llama("sdpa")
    monkeypatch.setattr(type(model), "forward", fused_forward)
    figures = install_trained_logits(real_trainer(model, tmp_path), loss_mode="sample")
    assert figures["enabled"] is False and "forward is not transformers' own" in figures["reason"]


def test_a_patched_loss_keeps_the_full_logits_for_the_token_loss_only(tmp_path):
    model = tiny_llama("sdpa")
    model.loss_function = lambda logits, labels, **kwargs: logits.sum()  # e.g. Axolotl's chunked cross-entropy
    token = install_trained_logits(real_trainer(model, tmp_path / "t"), loss_mode="token")
    assert token["enabled"] is False and "ForCausalLMLoss" in token["reason"]
    assert install_trained_logits(real_trainer(model, tmp_path / "s"), loss_mode="sample")["enabled"] is True


def test_a_trainer_loss_function_keeps_the_full_logits_for_the_token_loss(tmp_path):
    trainer = real_trainer(tiny_llama("sdpa"), tmp_path)
    trainer.compute_loss_func = lambda outputs, labels, num_items_in_batch=None: outputs.logits.sum()  # e.g. EAFT
    figures = install_trained_logits(trainer, loss_mode="token")
    assert figures["enabled"] is False and "compute_loss_func" in figures["reason"]


def test_an_output_layer_that_never_runs_or_sees_other_shapes_is_a_clear_error():
    head = torch.nn.Linear(4, 3)
    selection = OutputLayerSelection(head)
    keep = torch.tensor([[True, False]])
    with pytest.raises(RuntimeError, match="never ran its output layer.*packbench_trained_logits_only: false"):
        with selection.selecting(keep):
            pass
    with pytest.raises(RuntimeError, match="hidden states of shape"), selection.selecting(keep):
        head(torch.zeros(1, 3, 4))
    with selection.selecting(keep):
        assert head(torch.zeros(1, 2, 4)).shape == (1, 3)
    assert head(torch.zeros(1, 2, 4)).shape == (1, 2, 3)  # outside: untouched
    selection.remove()
    assert not head._forward_pre_hooks
