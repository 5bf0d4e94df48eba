"""Constants and helpers shared by the bench tests."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

HERE = Path(__file__).parent
FAKE_TRAIN = HERE / "fake_train.py"
GOLDEN = HERE / "golden"

HAND_MATRIX = """\
name: hand
base:
  sequence_len: 256
  micro_batch_size: 2
  num_epochs: 1
  learning_rate: 1.0e-4
  optimizer: adamw_torch
axes:
  model:
    - {name: small, path: /models/small, size: 1B}
    - {name: big, path: /models/big, size: 7B, settings: {gradient_checkpointing: true}}
  dataset:
    - name: chats
      size: 1K
      datasets: [{path: /data/chats.jsonl, ds_type: json, type: chat_template}]
  strategy: [padding, greedy]
  attention: [isolated, shared]
paired:
  - when: {model: big}
    set: {num_epochs: 3}
exclude:
  - {strategy: padding, attention: shared}
"""


FAKE_TRAIN_COMMAND = f"{shlex.quote(sys.executable)} {shlex.quote(str(FAKE_TRAIN))} {{config}}"
"""The fake trainer as `--train-command` text."""


def fake_command(*extra: str) -> tuple[str, ...]:
    """The fake trainer as a train-command template."""
    return (sys.executable, str(FAKE_TRAIN), "{config}", *extra)
