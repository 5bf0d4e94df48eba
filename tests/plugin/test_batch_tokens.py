"""The trainer's batch efficiency: real tokens / token slots of the micro batches the model saw."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from axolotl_packing_bench.plugin.batch_tokens import (
    ROW_TOKENS_KEY,
    BatchTokens,
    batch_real_tokens,
    install_batch_counter,
    trailing_padding,
)
from axolotl_packing_bench.plugin.collator import PackedRowCollator

PAD = 9
ROWS = [
    {
        "input_ids": [1, 2, 3, 4, 5],
        "labels": [-100, 2, -100, 4, 5],
        "position_ids": [0, 1, 0, 1, 2],
        "seq_lens": [2, 3],
    },
    {"input_ids": [6, 7], "labels": [-100, 7], "position_ids": [0, 1], "seq_lens": [2]},
]


def test_training_batches_carry_each_rows_real_length_and_eval_batches_do_not():
    collate = PackedRowCollator(SimpleNamespace(pad_token_id=PAD), attention="isolated", pad_to_multiple_of=4)
    assert ROW_TOKENS_KEY not in collate(ROWS)
    batch = PackedRowCollator(
        SimpleNamespace(pad_token_id=PAD), attention="isolated", pad_to_multiple_of=4, row_tokens=True
    )(ROWS)
    assert batch["input_ids"].shape == (2, 8)
    assert batch[ROW_TOKENS_KEY].tolist() == [5, 2]
    assert batch_real_tokens(batch, PAD) == 7
    assert ROW_TOKENS_KEY not in batch  # popped: the model never sees it


def test_row_lengths_count_even_where_padding_looks_like_a_segment():
    # isolated padding restarts positions (a segment of its own); shared padding continues them
    for attention in ("isolated", "shared"):
        continued = [dict(r, position_ids=list(range(len(r["input_ids"])))) for r in ROWS]
        rows = ROWS if attention == "isolated" else continued
        batch = PackedRowCollator(SimpleNamespace(pad_token_id=PAD), attention=attention, row_tokens=True)(rows)
        assert batch_real_tokens(batch, PAD) == 7


def test_a_2d_attention_mask_counts_its_non_zero_entries():
    # Axolotl's packing collator numbers the samples of a row 1, 2, ... and pads with 0
    batch = {
        "input_ids": torch.tensor([[1, 2, 3, PAD], [4, 5, 6, 7]]),
        "attention_mask": torch.tensor([[1, 1, 2, 0], [1, 2, 2, 3]]),
    }
    assert batch_real_tokens(batch, PAD) == 7


def test_without_mask_or_lengths_the_last_segment_is_padding_only_when_all_pad_and_untrained():
    input_ids = torch.tensor(
        [
            [1, 2, 3, PAD, PAD, PAD],  # a sample of 3, then padding positions 0, 1, 2
            [1, 2, 3, 4, 5, 6],  # full
            [1, 2, 3, 4, PAD, PAD],  # last segment ends in pad ids but is trained: real
        ]
    )
    position_ids = torch.tensor([[0, 1, 2, 0, 1, 2], [0, 1, 2, 0, 1, 2], [0, 1, 0, 1, 2, 3]])
    labels = torch.tensor([[-100, 2, 3, -100, -100, -100], [-100, 2, 3, -100, 5, 6], [-100, 2, -100, 4, PAD, -100]])
    assert trailing_padding(input_ids, position_ids, labels, PAD) == 3
    batch = {"input_ids": input_ids, "position_ids": position_ids, "labels": labels}
    assert batch_real_tokens(batch, PAD) == 18 - 3
    assert batch_real_tokens({"input_ids": input_ids}, PAD) is None  # nothing to tell padding by


def test_counter_sums_batches_and_refuses_an_efficiency_when_a_batch_could_not_be_counted():
    counter = BatchTokens()
    assert counter.summary() == {}
    counter.add({"input_ids": torch.zeros(2, 6, dtype=torch.long), ROW_TOKENS_KEY: torch.tensor([5, 6])}, PAD)
    counter.add({"input_ids": torch.zeros(1, 6, dtype=torch.long), ROW_TOKENS_KEY: torch.tensor([2])}, PAD)
    assert counter.summary() == {
        "trainer_efficiency": round(13 / 18, 6),
        "trainer_batches": {"micro_batches": 2, "real_tokens": 13, "token_slots": 18, "uncounted": 0},
    }
    counter.add({"input_ids": torch.zeros(1, 4, dtype=torch.long)}, PAD)  # no way to tell its padding
    assert counter.efficiency is None and counter.summary()["trainer_batches"]["uncounted"] == 1


def test_the_wrapped_training_step_counts_each_micro_batch_and_hides_the_lengths_from_the_model():
    seen: list[set[str]] = []

    class Trainer:
        processing_class = SimpleNamespace(pad_token_id=PAD)

        def training_step(self, model, inputs, num_items_in_batch=None):
            seen.append(set(inputs))
            return torch.tensor(1.0)

    trainer = Trainer()
    counter = install_batch_counter(trainer, BatchTokens())
    collate = PackedRowCollator(trainer.processing_class, attention="isolated", row_tokens=True)
    for _ in range(3):
        trainer.training_step(None, collate(ROWS), 4)
    assert seen == [{"input_ids", "labels", "position_ids"}] * 3
    assert (counter.micro_batches, counter.real_tokens, counter.token_slots) == (3, 21, 30)


@pytest.mark.parametrize("drop_mask", [False, True], ids=["with-mask", "mask-dropped"])
def test_axolotls_own_packing_collator_is_counted_exactly(drop_mask):
    """`native`: Axolotl's V2 collator, with its attention mask or without it (as sdpa runs drop it)."""
    batching = pytest.importorskip("axolotl.utils.collators.batching")
    from transformers import AutoTokenizer

    from axolotl_packing_bench.assets import ensure_tokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(ensure_tokenizer()), local_files_only=True)

    def sample(length: int, start: int) -> dict:
        ids = list(range(start, start + length))
        item = {"input_ids": ids, "labels": [-100] + ids[1:], "position_ids": list(range(length))}
        return item if drop_mask else {**item, "attention_mask": [1] * length}

    bins = [[sample(5, 20), sample(3, 40)], [sample(4, 60)]]  # 8 and 4 real tokens
    collate = batching.V2BatchSamplerDataCollatorForSeq2Seq(tokenizer, padding=True, pad_to_multiple_of=16)
    batch = collate(bins)
    assert batch["input_ids"].shape == (2, 16) and ("attention_mask" in batch) is not drop_mask
    assert batch_real_tokens(batch, tokenizer.pad_token_id) == 12


def test_the_plugin_counts_training_batches_only():
    from axolotl_packing_bench.plugin import PackingBenchPlugin

    cfg = SimpleNamespace(packbench_strategy="bfd", packbench_attention="isolated", packbench_loss="token")
    plugin = PackingBenchPlugin()
    assert plugin.get_collator_cls_and_kwargs(cfg, is_eval=False)[1]["row_tokens"] is True
    assert plugin.get_collator_cls_and_kwargs(cfg, is_eval=True)[1]["row_tokens"] is False  # eval never pops it
