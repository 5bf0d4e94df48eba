"""The packing-equivalence check on a real Llama forward and backward: isolated packing passes, shared fails."""

from __future__ import annotations

import pytest
import torch

from axolotl_packing_bench.plugin.equivalence import LOSS_RTOL, MIN_COSINE, check_equivalence, padded_batch
from axolotl_packing_bench.plugin.segment_attention import register
from tests.plugin.conftest import packed_batch, tiny_llama

STRATEGIES = {"padding": {}, "random": {}, "greedy": {}, "bfd": {}, "related": {"groups": [i % 3 for i in range(12)]}}


@pytest.mark.parametrize(
    ("strategy", "backend"), [*((name, "sdpa") for name in sorted(STRATEGIES)), ("bfd", "eager"), ("bfd", register())]
)
def test_isolated_packing_trains_as_padding(strategy, backend):
    batch, segments = packed_batch("isolated", strategy, seed=1, **STRATEGIES[strategy])
    model = tiny_llama(backend).train()
    before = [p.detach().clone() for p in model.parameters()]
    report = check_equivalence(model, batch, segments, attention="isolated")
    assert [check.mode for check in report.checks] == ["token", "sample"]
    assert report.passed and report.expected
    assert all(check.loss_rel_diff <= LOSS_RTOL and check.grad_cosine >= MIN_COSINE for check in report.checks)
    assert report.segments == sum(len(row) for row in segments) and report.rows == len(segments)
    assert model.training and all(p.grad is None for p in model.parameters())  # mode back, gradients cleared
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))  # weights untouched


@pytest.mark.parametrize("strategy", ["greedy", "bfd"])
def test_shared_attention_fails(strategy):
    batch, segments = packed_batch("shared", strategy, seed=1, **STRATEGIES[strategy])
    report = check_equivalence(tiny_llama("sdpa"), batch, segments, attention="shared")
    assert not report.passed and not report.expected
    assert all(not check.passed for check in report.checks)
    data = report.to_dict()
    assert data["passed"] is False and data["expected"] is False and data["max_loss_rel_diff"] > LOSS_RTOL


def test_a_broken_loss_normalisation_fails():
    """A training loss that averages per row instead of per token (a normalisation bug) is caught."""
    batch, segments = packed_batch("isolated", "bfd", seed=1)

    def mean_of_row_means(model, inputs, labels, segment_ids):
        logits = model(**inputs, use_cache=False).logits[:, :-1]
        nll = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100, reduction="none"
        ).view(labels.shape[0], -1)
        trained = (labels[:, 1:] != -100).float()
        return ((nll * trained).sum(1) / trained.sum(1)).mean()

    report = check_equivalence(
        tiny_llama("sdpa"), batch, segments, attention="isolated", own_mode="token", own_loss=mean_of_row_means
    )
    by_mode = {check.mode: check for check in report.checks}
    assert not by_mode["token"].passed and by_mode["sample"].passed and not report.passed


def test_padded_batch_puts_each_segment_alone():
    batch = {"input_ids": torch.tensor([[5, 6, 7, 8, 9, 0]]), "labels": torch.tensor([[-100, 6, 7, -100, 9, -100]])}
    out = padded_batch(batch, [[3, 2]])
    assert out["input_ids"].tolist() == [[5, 6, 7], [8, 9, 0]]
    assert out["labels"].tolist() == [[-100, 6, 7], [-100, 9, -100]]
    assert out["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
