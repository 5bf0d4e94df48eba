"""The data of the offline lm-eval tasks, generated locally from the synthetic topics."""

from __future__ import annotations

import json

from axolotl_packing_bench.assets import heldout_rows
from axolotl_packing_bench.eval.facts import ensure_facts_data, facts_rows


def test_rows_ask_heldout_facts_with_four_choices():
    rows = facts_rows(0)
    heldout = heldout_rows(0)
    assert len(rows["test"]) == len(heldout) == 96 and len(rows["train"]) == 768
    for row, fact in zip(rows["test"], heldout, strict=True):
        assert row["question"] == fact["question"] and row["value"] == fact["value"]
        assert len(set(row["choices"])) == 4 and row["choices"][row["label"]] == row["value"]
        assert fact["conflicting_value"] in row["choices"]
    labels = [row["label"] for row in rows["test"]]
    assert len(set(labels)) == 4  # the answer is not always in the same place
    assert facts_rows(0) == rows and facts_rows(1) != rows


def test_jsonl_written_once_under_the_asset_cache():
    files = ensure_facts_data(0)
    assert set(files) == {"test", "train"}
    first = json.loads(files["test"].read_text().splitlines()[0])
    assert first == facts_rows(0)["test"][0]
    assert ensure_facts_data(0) == files
