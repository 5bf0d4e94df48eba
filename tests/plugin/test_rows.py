"""Packed rows from a plan: exact tokens, labels, positions and segment lengths."""

from __future__ import annotations

import numpy as np
import pytest

from axolotl_packing_bench.packing import pack
from axolotl_packing_bench.plugin.rows import IGNORE_INDEX, TokenizedSamples, build_rows

M = IGNORE_INDEX


def samples(*rows: list[int]) -> TokenizedSamples:
    lengths = [len(r) for r in rows]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    ids = np.concatenate([np.asarray(r) for r in rows]).astype(np.int64)
    labels = ids * 10  # distinguishable from ids
    return TokenizedSamples(ids, labels, offsets)


class TestIsolated:
    def test_two_segments_in_one_row_restart_positions_and_mask_first_labels(self):
        data = samples([1, 2, 3], [4, 5])
        plan = pack(data.lengths, 5, "sequential")
        rows = build_rows(data, plan, attention="isolated")
        assert rows.num_rows == 1
        assert rows.input_ids.tolist() == [1, 2, 3, 4, 5]
        assert rows.labels.tolist() == [M, 20, 30, M, 50]
        assert rows.position_ids.tolist() == [0, 1, 2, 0, 1]
        assert rows.segment_lengths.tolist() == [3, 2]
        assert rows.row_offsets.tolist() == [0, 5]

    def test_bfd_rows_follow_the_plan(self):
        data = samples([1, 2, 3, 4], [5, 6], [7, 8, 9], [10])
        plan = pack(data.lengths, 5, "bfd")
        rows = build_rows(data, plan, attention="isolated")
        for b in range(plan.num_bins):
            idx, start, stop = plan.segments(b)
            expected = np.concatenate(
                [data.input_ids[data.offsets[i] + s : data.offsets[i] + e] for i, s, e in zip(idx, start, stop)]
            )
            got = rows.input_ids[rows.row_offsets[b] : rows.row_offsets[b + 1]]
            assert got.tolist() == expected.tolist()
        assert rows.real_tokens == 10


class TestShared:
    def test_positions_continue_through_the_row(self):
        data = samples([1, 2, 3], [4, 5])
        rows = build_rows(data, pack(data.lengths, 5, "sequential"), attention="shared")
        assert rows.position_ids.tolist() == [0, 1, 2, 3, 4]
        assert rows.labels.tolist() == [M, 20, 30, M, 50]


class TestSplitSamples:
    def test_a_split_sample_continues_in_the_next_row_with_its_first_label_masked(self):
        data = samples([1, 2, 3, 4, 5, 6])
        plan = pack(data.lengths, 4, "bfd", overflow="split")
        rows = build_rows(data, plan, attention="isolated")
        assert rows.num_rows == 2
        assert sorted(rows.input_ids.tolist()) == [1, 2, 3, 4, 5, 6]
        assert (rows.labels == M).sum() == 2


def test_to_dataset_round_trips_the_columns():
    data = samples([1, 2, 3], [4, 5], [6])
    rows = build_rows(data, pack(data.lengths, 4, "bfd"), attention="isolated")
    ds = rows.to_dataset()
    assert ds.column_names == ["input_ids", "labels", "position_ids", "seq_lens"]
    assert sum(len(r) for r in ds["input_ids"]) == 6
    assert sorted(sum(ds["seq_lens"], [])) == [1, 2, 3]


def test_tokenized_samples_read_from_a_hugging_face_dataset():
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict({"input_ids": [[1, 2], [3, 4, 5]], "labels": [[-100, 2], [3, -100, 5]]})
    data = TokenizedSamples.from_dataset(ds.select([1, 0]))
    assert data.lengths.tolist() == [3, 2]
    assert data.input_ids.tolist() == [3, 4, 5, 1, 2]
    assert data.labels.tolist() == [3, -100, 5, -100, 2]


def test_unknown_attention_mode_is_rejected():
    data = samples([1])
    with pytest.raises(ValueError, match="isolated or shared"):
        build_rows(data, pack(data.lengths, 4, "bfd"), attention="mixed")
