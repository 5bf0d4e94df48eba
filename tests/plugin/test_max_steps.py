"""`max_steps` is honoured by every strategy: each cell trains exactly that many optimizer steps, fewer than its
epochs hold (padding here) or more (the packers, whose epoch holds fewer steps, train extra epochs), and its
result records them. recipes/matrices/equal-steps.yaml relies on it."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from axolotl_packing_bench.cli import main
from axolotl_packing_bench.matrix.spec import STRATEGY_ORDER
from axolotl_packing_bench.packing.registry import known_strategies
from axolotl_packing_bench.results.store import read_results

pytestmark = pytest.mark.slow

MAX_STEPS = 4
CHATS = 24
MICRO_BATCH = 4

MATRIX = f"""\
name: max-steps
timeout: 10m
base:
  sequence_len: 512
  micro_batch_size: {MICRO_BATCH}
  num_epochs: 1
  max_steps: {MAX_STEPS}
  learning_rate: 1.0e-3
  optimizer: adamw_torch
  lr_scheduler: cosine
  bf16: false
  fp16: false
  attn_implementation: sdpa
  tokenizer_config: packbench://tokenizer
  chat_template: tokenizer_default
  eot_tokens: ["<|eot_id|>"]
  val_set_size: 0
  save_strategy: "no"
  logging_steps: 1
  dataset_num_proc: 1
  packbench_groups_k: 4
axes:
  model:
    - {{name: tiny-8b, path: packbench://model/tiny-8b-init, size: 8B}}
  dataset:
    - name: synth-{CHATS}
      size: "{CHATS}"
      datasets:
        - {{path: packbench://dataset/{CHATS}, ds_type: json, type: chat_template, field_messages: messages,
           chat_template: tokenizer_default, roles_to_train: [assistant], train_on_eos: turn}}
  strategy: [{", ".join(STRATEGY_ORDER)}]
"""


def steps_per_epoch(strategy: str) -> int:
    """What one epoch of the data takes without max_steps, as the plugin counts it (rows / micro batch)."""
    from axolotl_packing_bench.assets import conversation_num_tokens, resolve_asset_uri
    from axolotl_packing_bench.packing import pack

    with open(resolve_asset_uri(f"packbench://dataset/{CHATS}"), encoding="utf-8") as handle:
        lengths = [conversation_num_tokens(json.loads(line)["messages"]) for line in handle]
    return math.ceil(pack(lengths, 512, strategy).num_bins / MICRO_BATCH)


def test_every_strategy_trains_exactly_max_steps_and_records_them(tmp_path, monkeypatch):
    assert set(STRATEGY_ORDER) <= set(known_strategies())  # every built-in strategy, Axolotl's native included
    assert steps_per_epoch("padding") > MAX_STEPS > steps_per_epoch("bfd")  # cut short, and extended
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.yaml").write_text(MATRIX)
    result = CliRunner().invoke(main, ["run", "--matrix", "m.yaml", "--jobs", "2"], catch_exceptions=False)
    rows = {r.axes["strategy"]: r for r in read_results(tmp_path / "leaderboard/results.jsonl")}
    logs = {s: (tmp_path / r.log).read_text()[-3000:] for s, r in rows.items() if r.log and not r.ok}
    assert result.exit_code == 0, (result.output, logs)
    assert set(rows) == set(STRATEGY_ORDER)
    steps = {strategy: row.metric("training", "steps") for strategy, row in rows.items()}
    assert steps == dict.fromkeys(STRATEGY_ORDER, MAX_STEPS)
    epochs = {strategy: row.metric("training", "epochs") for strategy, row in rows.items()}
    assert epochs["padding"] < 1 < epochs["bfd"], epochs  # max_steps, not num_epochs: 1, set the length
