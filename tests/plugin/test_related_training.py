"""Real `axolotl train` runs with the group-aware strategies and the per-sample loss."""

from __future__ import annotations

import pytest

from tests.plugin.conftest import axolotl_train, chat_dataset, recipe

pytestmark = pytest.mark.slow


def test_related_with_sample_loss(tiny_model, tiny_dataset, tmp_path):
    cfg = recipe(
        tiny_model,
        chat_dataset(tiny_dataset),
        tmp_path,
        packbench_strategy="related",
        packbench_loss="sample",
        packbench_attention="shared",
        gradient_accumulation_steps=2,
    )
    proc, metrics = axolotl_train(cfg, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert metrics["status"] == "ok" and metrics["strategy"] == "related" and metrics["loss_mode"] == "sample"
    packing = metrics["packing"]
    assert packing["samples"] == 120 and packing["efficiency"] > 0.85
    related = packing["relatedness"]
    assert related["groups_from"] == "tfidf" and related["num_groups"] == 16
    assert related["same_group_adjacent"] > 2 * related["chance_same_group"]
    training = metrics["training"]
    assert training["steps"] > 0 and 0 < training["final_train_loss"] < 20
    assert metrics["leakage"]["segments"] > 0  # the probe ran although batches carry segment ids
    assert "packbench: relatedness" in proc.stdout + proc.stderr


def test_unrelated_with_groups_from_the_topic_field(tiny_model, tiny_dataset, tmp_path):
    # Axolotl shuffles the merged dataset (shuffle_merged_datasets defaults to true); the plugin
    # replays that merge to read each sample's `topic`, and checks the rows still match.
    cfg = recipe(
        tiny_model,
        chat_dataset(tiny_dataset),
        tmp_path,
        packbench_strategy="unrelated",
        packbench_group_field="topic",
        max_steps=3,
    )
    proc, metrics = axolotl_train(cfg, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    related = metrics["packing"]["relatedness"]
    assert related["groups_from"] == "field:topic"
    assert related["same_group_adjacent"] <= related["chance_same_group"]
