"""`packbench_loss: sample`: each sample's mean loss weighs the same, checked by hand."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from axolotl_packing_bench.plugin.collator import PackedRowCollator
from axolotl_packing_bench.plugin.loss import (
    SEGMENT_KEY,
    count_samples,
    install_sample_loss,
    per_sample_loss,
    segment_ids_for_rows,
)

LN2 = math.log(2)
X = -100


def log_probs(*rows: list[float]) -> torch.Tensor:
    """Logits equal to log-probabilities over a 4-token vocabulary."""
    return torch.log(torch.tensor(rows, dtype=torch.float64))


@pytest.fixture
def one_row():
    # row: a1 a2 a3 | b1 b2   (segments of 3 and 2 tokens; first label of each masked)
    # targets: a2 (p=1/2), a3 (p=1/4) | b2 (p=1/8); the logits at t predict the label at t + 1
    logits = log_probs(
        [0.5, 0.5, 0.0, 0.0],  # predicts a2 = token 0 with 1/2
        [0.25, 0.75, 0.0, 0.0],  # predicts a3 = token 0 with 1/4
        [0.25, 0.25, 0.25, 0.25],  # predicts b1: masked
        [0.125, 0.875, 0.0, 0.0],  # predicts b2 = token 0 with 1/8
        [0.25, 0.25, 0.25, 0.25],  # nothing after the row
    )[None]
    labels = torch.tensor([[X, 0, 0, X, 0]])
    segments = segment_ids_for_rows([[3, 2]], 5)
    return logits, labels, segments


def test_hand_computed_sample_mean(one_row):
    logits, labels, segments = one_row
    # sample a: (ln 2 + ln 4) / 2 = 1.5 ln 2; sample b: ln 8 = 3 ln 2; mean of the two: 2.25 ln 2
    assert float(per_sample_loss(logits, labels, segments)) == pytest.approx(2.25 * LN2)
    # the token mean would be (ln 2 + ln 4 + ln 8) / 3 = 2 ln 2
    token = torch.nn.functional.cross_entropy(logits[0, :-1], labels[0, 1:], ignore_index=X)
    assert float(token) == pytest.approx(2 * LN2)
    assert float(per_sample_loss(logits, labels, segments, num_samples=4)) == pytest.approx(4.5 * LN2 / 4)


def test_gradient_accumulation_divides_by_samples_of_the_whole_batch(one_row):
    logits, labels, segments = one_row
    other_logits = log_probs([0.5, 0.5, 0, 0], [0.5, 0.5, 0, 0], [0.5, 0.5, 0, 0])[None]
    other_labels = torch.tensor([[X, 0, 1]])  # one sample: ln 2 twice -> mean ln 2
    other_segments = segment_ids_for_rows([[3]], 3)
    total = count_samples(labels, segments) + count_samples(other_labels, other_segments)
    assert total == 3
    accumulated = per_sample_loss(logits, labels, segments, total) + per_sample_loss(
        other_logits, other_labels, other_segments, total
    )
    assert float(accumulated) == pytest.approx((1.5 * LN2 + 3 * LN2 + LN2) / 3)


def test_samples_without_trained_tokens_do_not_count():
    labels = torch.tensor([[X, X, X, 0, X]])
    segments = segment_ids_for_rows([[2, 2]], 5)  # second row-part is padding
    assert count_samples(labels, segments) == 1


def test_segment_ids_unique_across_rows_and_minus_one_on_padding():
    ids = segment_ids_for_rows([[3, 2], [4]], 5)
    assert ids.tolist() == [[0, 0, 0, 1, 1], [2, 2, 2, 2, -1]]


def test_collator_adds_segment_ids_only_when_asked():
    tokenizer = SimpleNamespace(pad_token_id=0)
    rows = [
        {"input_ids": [5, 6, 7], "labels": [X, 6, 7], "position_ids": [0, 1, 0], "seq_lens": [2, 1]},
        {"input_ids": [8], "labels": [X], "position_ids": [0], "seq_lens": [1]},
    ]
    assert SEGMENT_KEY not in PackedRowCollator(tokenizer)(rows)
    batch = PackedRowCollator(tokenizer, segment_ids=True)(rows)
    assert batch[SEGMENT_KEY].tolist() == [[0, 0, 1], [2, -1, -1]]


class FakeTrainer:
    """The parts of transformers' Trainer that `install_sample_loss` wraps, reduced to their logic."""

    def __init__(self, model):
        self.model = model
        self.compute_loss_func = None
        self.args = SimpleNamespace(gradient_accumulation_steps=2, average_tokens_across_devices=False, world_size=1)
        self.current_gradient_accumulation_steps = 2

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels") if self.compute_loss_func is not None else None
        outputs = model(**inputs)
        return self.compute_loss_func(outputs, labels, num_items_in_batch=num_items_in_batch)

    def _get_num_items_in_batch(self, batch_samples, device):
        return sum(int((b["labels"][..., 1:] != X).sum()) for b in batch_samples)  # tokens


def test_install_on_a_trainer(one_row):
    logits, labels, segments = one_row
    seen = []

    def model(**inputs):
        seen.append(set(inputs))
        return {"logits": logits}

    model.training = True
    trainer = FakeTrainer(model)
    install_sample_loss(trainer)
    batch = {"input_ids": torch.zeros(1, 5, dtype=torch.long), "labels": labels, SEGMENT_KEY: segments}
    assert int(trainer._get_num_items_in_batch([batch, batch], "cpu")) == 4  # samples, not tokens
    loss = trainer.compute_loss(model, dict(batch), num_items_in_batch=4)
    assert float(loss) == pytest.approx(4.5 * LN2 / 4)
    assert seen == [{"input_ids"}]  # the model never sees labels here, nor the segment ids
    # without an accumulated count (a trainer that gives none): this batch's samples x accumulation steps
    assert float(trainer.compute_loss(model, dict(batch))) == pytest.approx(4.5 * LN2 / 4)


def test_missing_segment_ids_is_a_clear_error(one_row):
    trainer = FakeTrainer(lambda **inputs: None)
    install_sample_loss(trainer)
    with pytest.raises(RuntimeError, match="packbench_loss: sample needs packbench_segment_ids"):
        trainer.compute_loss(trainer.model, {"labels": one_row[1]})
