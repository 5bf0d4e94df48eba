"""Collate packed rows into a batch whose attention isolation is set by position ids.

No attention mask is ever returned. transformers then derives the mask from
`position_ids` alone: on eager and sdpa it finds packed sequences where the
positions restart and builds a block-causal mask; on flash-attention it turns
the restarts into `cu_seqlens` (varlen). Any 2-D mask, all-ones or segment
ids, would silently switch that detection off and let segments leak.

Two rows of a batch, padded (P) to the longest row:

    input_ids      a1 a2 a3 b1 b2 c1 c2 | d1 d2 d3 d4 P  P
    labels         -  a2 a3 -  b2 -  c2 | -  d2 d3 d4 -  -
    position_ids   0  1  2  0  1  0  1  | 0  1  2  3  0  1    (isolated)
                   0  1  2  3  4  5  6  | 0  1  2  3  4  5    (shared)

    isolated mask, row 0 (1 = may attend)      shared mask, row 0
        a1 a2 a3 b1 b2 c1 c2                       a1 a2 a3 b1 b2 c1 c2
    a1   1                                     a1   1
    a2   1  1                                  a2   1  1
    a3   1  1  1                               a3   1  1  1
    b1            1                            b1   1  1  1  1
    b2            1  1                         b2   1  1  1  1  1
    c1                  1                      c1   1  1  1  1  1  1
    c2                  1  1                   c2   1  1  1  1  1  1  1

Padding sits after every real token, so causal attention keeps it invisible
to them; its labels are -100 and, in isolated rows, it forms its own segment.

With `segment_ids=True` (`packbench_loss: sample`) the batch also carries
`packbench_segment_ids`, the sample of each token, unique in the batch and -1
on padding; `plugin.loss` removes it before the model's forward:

    packbench_segment_ids   0  0  0  1  1  2  2  | 3  3  3  3  -1 -1

Training batches also carry `packbench_row_tokens`, each row's real length
(7 and 4 above), for the trainer's batch efficiency (`plugin.batch_tokens`,
which removes it before the model's forward).
"""

from __future__ import annotations

from typing import Any

import torch

from axolotl_packing_bench.constants import DEFAULT_ATTENTION
from axolotl_packing_bench.plugin.rows import IGNORE_INDEX


class PackedRowCollator:
    """Batches rows made by `build_rows` (called by Axolotl's trainer builder).

    Args:
        tokenizer: gives the pad token id.
        attention: `isolated` or `shared`; decides the padding's positions.
        segment_ids: also return `packbench_segment_ids` (from each row's `seq_lens`).
        row_tokens: also return `packbench_row_tokens` (each row's real length; training batches only).
        pad_to_multiple_of: round the batch length up to a multiple of this.
        padding, return_tensors: accepted for Axolotl's collator interface.
    """

    def __init__(
        self,
        tokenizer: Any,
        *,
        attention: str = DEFAULT_ATTENTION,
        segment_ids: bool = False,
        row_tokens: bool = False,
        pad_to_multiple_of: int | None = None,
        padding: bool | str = True,
        return_tensors: str = "pt",
        **_axolotl_kwargs: Any,
    ) -> None:
        self.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.attention = attention
        self.segment_ids = segment_ids
        self.row_tokens = row_tokens
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        longest = max(len(f["input_ids"]) for f in features)
        if self.pad_to_multiple_of:
            longest = -(-longest // self.pad_to_multiple_of) * self.pad_to_multiple_of
        batch = len(features)
        input_ids = torch.full((batch, longest), self.pad_token_id, dtype=torch.long)
        labels = torch.full((batch, longest), IGNORE_INDEX, dtype=torch.long)
        position_ids = torch.empty((batch, longest), dtype=torch.long)
        for i, feature in enumerate(features):
            n = len(feature["input_ids"])
            input_ids[i, :n] = torch.as_tensor(feature["input_ids"], dtype=torch.long)
            labels[i, :n] = torch.as_tensor(feature["labels"], dtype=torch.long)
            position_ids[i, :n] = torch.as_tensor(feature["position_ids"], dtype=torch.long)
            pad = longest - n
            if pad:
                first = 0 if self.attention == "isolated" or n == 0 else int(position_ids[i, n - 1]) + 1
                position_ids[i, n:] = torch.arange(first, first + pad)
        batch_out = {"input_ids": input_ids, "labels": labels, "position_ids": position_ids}
        if self.segment_ids:
            from axolotl_packing_bench.plugin.loss import SEGMENT_KEY, segment_ids_for_rows

            batch_out[SEGMENT_KEY] = segment_ids_for_rows([list(f["seq_lens"]) for f in features], longest)
        if self.row_tokens:
            from axolotl_packing_bench.plugin.batch_tokens import ROW_TOKENS_KEY, row_tokens_tensor

            batch_out[ROW_TOKENS_KEY] = row_tokens_tensor([len(f["input_ids"]) for f in features])
        return batch_out
