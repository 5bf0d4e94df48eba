"""The per-rank row log and the metrics file written by the first process only."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from axolotl_packing_bench.plugin.row_log import install_row_log, row_digest


class FakeTrainer:
    def __init__(self) -> None:
        self.seen: list[torch.Tensor] = []

    def training_step(self, model, inputs, num_items_in_batch=None):
        self.seen.append(inputs["input_ids"])
        return torch.tensor(1.0)


def test_each_micro_batch_appends_its_rows_to_this_ranks_file(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    trainer = FakeTrainer()
    path = install_row_log(trainer, tmp_path)
    assert path == tmp_path / "packbench_rows.rank1.jsonl" and path.read_text() == ""
    batches = [torch.tensor([[5, 6, 7], [8, 9, 0]]), torch.tensor([[1, 2, 3]])]
    for batch in batches:
        assert trainer.training_step(None, {"input_ids": batch}, num_items_in_batch=3).item() == 1.0
    assert trainer.seen == batches  # the wrapped step still runs, with the same inputs
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines == [
        {"rank": 1, "call": 0, "rows": [row_digest([5, 6, 7]), row_digest([8, 9, 0])]},
        {"rank": 1, "call": 1, "rows": [row_digest([1, 2, 3])]},
    ]
    assert row_digest([5, 6, 7]) != row_digest([5, 6, 8]) and len(row_digest([1])) == 16


def test_only_the_first_process_writes_the_metrics_file(tmp_path: Path, monkeypatch):
    from axolotl_packing_bench.plugin.metrics import RunMetrics

    for rank, written in (("1", False), ("0", True)):
        monkeypatch.setenv("RANK", rank)
        path = tmp_path / f"rank{rank}" / "packbench_metrics.json"
        path.parent.mkdir()
        metrics = RunMetrics(path=path, strategy="bfd", attention="isolated", eval_strategy="bfd", capacity=64)
        metrics.finish(status="ok")
        assert path.exists() is written
