"""`packbench_record_rows: true`: each process writes which packed rows it trained on.

With several processes every rank trains on its share of the rows; whether
each row was trained exactly once per epoch is checked from these files.
Every training micro batch appends one line to
`<output_dir>/packbench_rows.rank<RANK>.jsonl`:

    {"rank": 1, "call": 7, "rows": ["3f2a9c0e1b7d4a55", ...]}

a row being the first 16 hex digits of the SHA-1 of its token ids as
batched, trailing padding included (with `micro_batch_size: 1` a row is
never padded, so the digests match `row_digest` of the dataset's rows).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

FILE_PATTERN = "packbench_rows.rank{rank}.jsonl"


def process_rank() -> int:
    """This process's global rank under torchrun/accelerate (RANK), 0 when launched alone."""
    return int(os.environ.get("RANK", "0") or 0)


def row_digest(token_ids: Any) -> str:
    """A row's identity: 16 hex digits of the SHA-1 of its int64 token ids."""
    return hashlib.sha1(np.asarray(token_ids, dtype=np.int64).tobytes()).hexdigest()[:16]


def install_row_log(trainer: Any, output_dir: str | Path) -> Path:
    """Wrap `trainer.training_step` to append each micro batch's row digests to this rank's file; returns it."""
    rank = process_rank()
    path = Path(output_dir) / FILE_PATTERN.format(rank=rank)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    training_step = trainer.training_step
    calls = [0]

    @functools.wraps(training_step)
    def training_step_logging_rows(model, inputs, *args, **kwargs):
        rows = [row_digest(row) for row in inputs["input_ids"].detach().cpu().numpy()]
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"rank": rank, "call": calls[0], "rows": rows}) + "\n")
        calls[0] += 1
        return training_step(model, inputs, *args, **kwargs)

    trainer.training_step = training_step_logging_rows
    return path
