"""`packbench stats` predicts the padding efficiency a real training run records (real SFT data)."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from axolotl_packing_bench.cli import main
from tests.plugin.conftest import axolotl_train, recipe, sharegpt_dataset

pytestmark = pytest.mark.slow

SEEDS = 10
MARGIN = 0.01
"""Stats shuffles the rows with numpy, the trainer with torch: the same distribution of batches, not the same
batches. The recorded figure must lie within the range stats gives over `SEEDS` shuffles, widened by one point."""


def test_stats_predicts_the_padding_efficiency_the_trainer_records(tiny_model, shared_data, tmp_path):
    chats = json.loads((shared_data / "sharegpt_identity_500.json").read_text())[:200]
    data = tmp_path / "sharegpt_200.json"
    data.write_text(json.dumps(chats))
    cfg = recipe(
        tiny_model,
        sharegpt_dataset(str(data)),
        tmp_path,
        packbench_strategy="padding",
        sequence_len=512,
        micro_batch_size=4,
        packbench_probe_leakage=False,
    )
    proc, metrics = axolotl_train(cfg, tmp_path / "train")
    assert proc.returncode == 0, proc.stderr[-3000:]
    packing = metrics["packing"]
    batches = packing["trainer_batches"]
    assert batches["uncounted"] == 0 and batches["micro_batches"] == metrics["training"]["steps"]
    assert batches["token_slots"] % 64 == 0  # each micro batch padded to a multiple of 64, as Axolotl sets it
    recorded = packing["trainer_efficiency"]

    config = tmp_path / "recipe.yml"
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    predicted = []
    for seed in range(SEEDS):
        args = ["stats", "--config", str(config), "--strategies", "padding", "--seed", str(seed), "--format", "json"]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        assert out["micro_batch_size"] == 4 and out["pad_to_multiple_of"] == 64
        assert out["input_tokens"] == packing["real_tokens"]  # the same samples, counted the same way
        predicted.append(out["strategies"][0]["trainer_efficiency"])
    assert min(predicted) - MARGIN <= recorded <= max(predicted) + MARGIN, (recorded, predicted)
    # the full-row figure is far lower: the trainer does not pad to sequence_len
    assert packing["efficiency"] < recorded / 2
