"""The collator pads rows and never returns an attention mask."""

from __future__ import annotations

from types import SimpleNamespace

from axolotl_packing_bench.plugin.collator import PackedRowCollator

TOKENIZER = SimpleNamespace(pad_token_id=9)
ROWS = [
    {"input_ids": [1, 2, 3, 4], "labels": [-100, 2, -100, 4], "position_ids": [0, 1, 0, 1], "seq_lens": [2, 2]},
    {"input_ids": [5, 6], "labels": [-100, 6], "position_ids": [0, 1], "seq_lens": [2]},
]


def test_isolated_padding_restarts_positions_and_masks_labels():
    batch = PackedRowCollator(TOKENIZER, attention="isolated")(ROWS)
    assert set(batch) == {"input_ids", "labels", "position_ids"}
    assert batch["input_ids"].tolist() == [[1, 2, 3, 4], [5, 6, 9, 9]]
    assert batch["labels"].tolist() == [[-100, 2, -100, 4], [-100, 6, -100, -100]]
    assert batch["position_ids"].tolist() == [[0, 1, 0, 1], [0, 1, 0, 1]]


def test_shared_padding_continues_positions():
    shared = [dict(r, position_ids=list(range(len(r["input_ids"])))) for r in ROWS]
    batch = PackedRowCollator(TOKENIZER, attention="shared")(shared)
    assert batch["position_ids"].tolist() == [[0, 1, 2, 3], [0, 1, 2, 3]]


def test_pad_to_multiple_of_rounds_the_length_up():
    batch = PackedRowCollator(TOKENIZER, attention="isolated", pad_to_multiple_of=8, padding=True, return_tensors="pt")(
        ROWS
    )
    assert batch["input_ids"].shape == (2, 8)
