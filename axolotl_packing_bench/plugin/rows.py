"""Turn a `PackPlan` over Axolotl's tokenized samples into packed training rows.

Pure numpy + pyarrow: no torch. A row is the concatenation of its segments'
tokens; every segment's first label is masked, so no token is ever trained to
predict the first token of a different sample:

    segments:      a1 a2 a3 | b1 b2 | c1 c2 c3 c4
    input_ids:     a1 a2 a3   b1 b2   c1 c2 c3 c4
    labels:        -  a2 a3   -  b2   -  c2 c3 c4     (- is -100)
    position_ids
      isolated:    0  1  2    0  1    0  1  2  3      (restart: block-causal)
      shared:      0  1  2    3  4    5  6  7  8      (continue: plain causal)
    seq_lens:      [3, 2, 4]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from axolotl_packing_bench.constants import ATTENTIONS
from axolotl_packing_bench.packing import PackPlan

IGNORE_INDEX = -100


@dataclass(frozen=True)
class TokenizedSamples:
    """Axolotl's tokenized samples as flat arrays (CSR: `offsets` into `input_ids`)."""

    input_ids: np.ndarray
    labels: np.ndarray
    offsets: np.ndarray

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @classmethod
    def from_dataset(cls, dataset) -> TokenizedSamples:
        """Read `input_ids` and `labels` of a Hugging Face `Dataset` without Python loops."""
        table = dataset.flatten_indices().data.table if dataset._indices is not None else dataset.data.table
        ids_values, offsets = _flat_list_column(table, "input_ids")
        if "labels" in table.column_names:
            label_values, label_offsets = _flat_list_column(table, "labels")
            if not np.array_equal(label_offsets, offsets):
                raise ValueError("the tokenized dataset has rows whose labels and input_ids differ in length")
        else:
            label_values = ids_values.copy()
        return cls(ids_values.astype(np.int64), label_values.astype(np.int64), offsets)


def _flat_list_column(table, name: str) -> tuple[np.ndarray, np.ndarray]:
    column = table.column(name).combine_chunks()
    offsets = np.asarray(column.offsets, dtype=np.int64)
    values = np.asarray(column.flatten())
    return values, offsets - offsets[0]


@dataclass(frozen=True)
class PackedRows:
    """Packed rows as flat arrays; `row_offsets` and `segment_offsets` are CSR style."""

    input_ids: np.ndarray
    labels: np.ndarray
    position_ids: np.ndarray
    row_offsets: np.ndarray
    segment_lengths: np.ndarray
    segment_offsets: np.ndarray

    @property
    def num_rows(self) -> int:
        return len(self.row_offsets) - 1

    @property
    def real_tokens(self) -> int:
        return int(self.row_offsets[-1])

    def to_dataset(self):
        """A Hugging Face `Dataset` with input_ids, labels, position_ids and seq_lens."""
        import datasets
        import pyarrow as pa

        def lists(values: np.ndarray, offsets: np.ndarray) -> pa.Array:
            if offsets[-1] < np.iinfo(np.int32).max:
                return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), pa.array(values))
            return pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values))

        table = pa.table(
            {
                "input_ids": lists(self.input_ids, self.row_offsets),
                "labels": lists(self.labels, self.row_offsets),
                "position_ids": lists(self.position_ids, self.row_offsets),
                "seq_lens": lists(self.segment_lengths, self.segment_offsets),
            }
        )
        return datasets.Dataset(table)


def build_rows(samples: TokenizedSamples, plan: PackPlan, *, attention: str) -> PackedRows:
    """Gather the plan's segments into rows.

    Args:
        samples: the tokenized samples the plan was made for.
        plan: which segment of which sample goes into which row.
        attention: `isolated` (positions restart per segment) or `shared`
            (positions continue through the row).
    """
    if attention not in ATTENTIONS:
        raise ValueError(f"unknown attention mode {attention!r}; use {' or '.join(ATTENTIONS)}")
    seg_len = (plan.stop - plan.start).astype(np.int64)
    seg_out_start = np.zeros(len(seg_len), dtype=np.int64)
    np.cumsum(seg_len[:-1], out=seg_out_start[1:])
    total = int(seg_len.sum())
    token_pos = np.arange(total, dtype=np.int64)

    seg_src_start = samples.offsets[plan.sample_index] + plan.start
    gather = np.repeat(seg_src_start - seg_out_start, seg_len) + token_pos
    input_ids = samples.input_ids[gather]
    labels = samples.labels[gather]
    nonempty = seg_len > 0
    labels[seg_out_start[nonempty]] = IGNORE_INDEX

    bin_offsets = np.asarray(plan.bin_offsets, dtype=np.int64)
    row_offsets = np.append(seg_out_start, total)[bin_offsets]
    if attention == "isolated":
        position_ids = token_pos - np.repeat(seg_out_start, seg_len)
    else:
        row_len = np.diff(row_offsets)
        position_ids = token_pos - np.repeat(row_offsets[:-1], row_len)
    return PackedRows(
        input_ids=input_ids,
        labels=labels,
        position_ids=position_ids,
        row_offsets=row_offsets,
        segment_lengths=seg_len,
        segment_offsets=bin_offsets,
    )
