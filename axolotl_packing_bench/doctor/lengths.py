"""The sample lengths the check packs: a real SFT set's, shipped with the package.

`alpaca_lengths.json` holds the token counts of the 1,000 records of
`alpaca_cleaned_1000.json` (cleaned Stanford Alpaca, from the lm-sys/FastChat
repository), each rendered with the embedded tokenizer's chat template and
tokenized by it (`data.lengths.read_lengths`): mean 167, median 125, 95th
percentile 409, longest 1,123 tokens. The embedded tokenizer splits English
about as finely as Llama's (~1.4 tokens a word), so the distribution stands
for a real instruction set's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

LENGTHS_FILE = Path(__file__).with_name("alpaca_lengths.json")
SOURCE = "alpaca_cleaned_1000, embedded tokenizer"


def shipped_lengths() -> np.ndarray:
    """The shipped lengths, int64, in the dataset's order."""
    from axolotl_packing_bench.data.lengths import read_lengths

    return read_lengths(LENGTHS_FILE)
