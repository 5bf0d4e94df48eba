"""Every strategy x attention mode trains end to end through `axolotl train`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.plugin.conftest import axolotl_train, chat_dataset, recipe, sharegpt_dataset

pytestmark = pytest.mark.slow

CASES = [
    # strategy, attention, overflow, backend
    ("padding", "isolated", "truncate", "sdpa"),
    ("random", "isolated", "split", "sdpa"),
    ("random", "shared", "split", "sdpa"),
    ("greedy", "isolated", "drop", "sdpa"),
    ("greedy", "shared", "truncate", "eager"),
    ("bfd", "isolated", "truncate", "eager"),
    ("bfd", "shared", "truncate", "sdpa"),
    ("sequential", "isolated", "split", "sdpa"),
]


@pytest.mark.parametrize(("strategy", "attention", "overflow", "backend"), CASES)
def test_strategy_trains_and_records_sane_metrics(
    tiny_model, tiny_dataset, tmp_path, strategy, attention, overflow, backend
):
    cfg = recipe(
        tiny_model,
        chat_dataset(tiny_dataset),
        tmp_path,
        packbench_strategy=strategy,
        packbench_attention=attention,
        packbench_overflow=overflow,
        attn_implementation=backend,
    )
    proc, metrics = axolotl_train(cfg, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert metrics["status"] == "ok"
    assert (metrics["strategy"], metrics["attention"], metrics["capacity"]) == (strategy, attention, 256)
    packing, training = metrics["packing"], metrics["training"]
    assert packing["samples"] == 120
    assert packing["rows"] >= packing["lower_bound"] > 0
    assert 0 < packing["efficiency"] <= 1
    if strategy == "padding":
        assert packing["rows"] == 120 - packing["dropped"]
    elif strategy == "sequential":  # next-fit in dataset order wastes the tail of many rows
        assert packing["efficiency"] > 0.6
    else:
        assert packing["efficiency"] > 0.9
    # the dataset has samples over 256 tokens: the overflow policy's count must show them
    affected = {"truncate": packing["truncated"], "drop": packing["dropped"], "split": packing["split"]}[overflow]
    assert affected > 0
    assert training["steps"] > 0 and training["runtime_s"] > 0
    assert training["real_tokens_per_s"] > 0 and training["samples_per_s"] > 0
    assert training["final_train_loss"] > 0
    # what the trainer computed on: every micro batch counted, none of it invented
    batches = packing["trainer_batches"]
    assert batches["uncounted"] == 0 and batches["micro_batches"] == training["steps"]
    assert 0 < batches["real_tokens"] <= packing["real_tokens"] and 0 < packing["trainer_efficiency"] <= 1
    if strategy == "padding":  # padded to the longest in its micro batch, not to sequence_len
        assert packing["trainer_efficiency"] > packing["efficiency"]
    assert metrics["model"]["parameters"] > 0 and metrics["peak_memory_mb"] > 0
    assert metrics["versions"]["axolotl"] and metrics["versions"]["torch"]
    leakage = metrics["leakage"]
    # isolated packed rows on sdpa run per-segment (varlen) sdpa; padding keeps transformers' own
    varlen = backend == "sdpa" and attention == "isolated" and strategy != "padding"
    assert leakage["attn_implementation"] == ("packbench_sdpa_varlen" if varlen else backend)
    assert leakage["segments"] > 0
    assert 0 < leakage["seconds"] < training["runtime_s"]  # the probe ran inside the trainer's runtime
    if attention == "isolated":
        assert leakage["max_abs_diff"] <= 1e-4 and leakage["passed"] is True
    else:
        assert leakage["max_abs_diff"] > 1e-3 and leakage["passed"] is None
    assert "packbench: " + strategy in proc.stdout + proc.stderr  # the packing summary reaches Axolotl's log


def test_native_hands_packing_to_axolotl(tiny_model, tiny_dataset, tmp_path):
    cfg = recipe(tiny_model, chat_dataset(tiny_dataset), tmp_path, packbench_strategy="native")
    proc, metrics = axolotl_train(cfg, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert metrics["status"] == "ok" and metrics["strategy"] == "native"
    assert metrics["packing"]["rows"] >= metrics["packing"]["lower_bound"] > 0
    assert metrics["training"]["real_tokens_per_s"] > 0
    assert metrics["leakage"]["max_abs_diff"] <= 1e-4  # Axolotl's own packing isolates on sdpa
    assert 0 < metrics["leakage"]["seconds"] < metrics["training"]["runtime_s"]
    batches = metrics["packing"]["trainer_batches"]  # counted from Axolotl's own collator's batches
    assert batches["uncounted"] == 0 and batches["micro_batches"] == metrics["training"]["steps"]
    assert 0 < batches["real_tokens"] <= metrics["packing"]["real_tokens"]


def test_a_crash_during_training_still_writes_metrics(tiny_model, tiny_dataset, tmp_path):
    # A learning-rate scheduler Axolotl accepts but torch cannot build fails inside trainer.train().
    cfg = recipe(
        tiny_model,
        chat_dataset(tiny_dataset),
        tmp_path,
        packbench_strategy="bfd",
        max_steps=2,
        optimizer="adamw_torch",
        lr_scheduler="cosine",
        warmup_steps=-5,
    )
    proc, metrics = axolotl_train(cfg, tmp_path)
    assert proc.returncode != 0
    assert metrics is not None and metrics["status"] == "failed"
    assert metrics["error"]
    assert metrics["packing"]["rows"] > 0  # what was known before the crash is kept


def test_alpaca_real_data(tiny_model, shared_data, tmp_path):
    dataset = [{"path": str(shared_data / "alpaca_cleaned_1000.json"), "ds_type": "json", "type": "alpaca"}]
    cfg = recipe(tiny_model, dataset, tmp_path, packbench_strategy="greedy", max_steps=8)
    proc, metrics = axolotl_train(cfg, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 990 <= metrics["packing"]["samples"] <= 1000  # Axolotl itself filters the odd empty sample
    assert metrics["packing"]["efficiency"] > 0.9
    assert metrics["leakage"]["passed"] is True


def test_sharegpt_real_data(tiny_model, shared_data, tmp_path):
    dataset = sharegpt_dataset(str(shared_data / "sharegpt_identity_500.json"))
    cfg = recipe(tiny_model, dataset, tmp_path, packbench_strategy="bfd", max_steps=8)
    proc, metrics = axolotl_train(cfg, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 490 <= metrics["packing"]["samples"] <= 500
    assert metrics["leakage"]["passed"] is True


def test_the_equivalence_check_runs_in_real_training(tiny_model, tiny_dataset, tmp_path):
    """bfd isolated with the per-sample loss: the trainer's own loss path equals the padded reference."""
    cfg = recipe(
        tiny_model,
        chat_dataset(tiny_dataset),
        tmp_path,
        packbench_strategy="bfd",
        packbench_loss="sample",
        packbench_equivalence_check=True,
        max_steps=3,
    )
    proc, metrics = axolotl_train(cfg, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    equivalence = metrics["equivalence"]
    assert equivalence["passed"] is True and equivalence["expected"] is True, equivalence
    assert [check["mode"] for check in equivalence["checks"]] == ["token", "sample"]
    assert equivalence["max_loss_rel_diff"] <= 1e-5 and equivalence["min_grad_cosine"] >= 1 - 1e-6
    assert metrics["trained_logits"]["enabled"] is True  # the run's own loss read only the trained positions


@pytest.mark.slow
def test_the_readme_recipe_trains_as_written_on_a_cpu(tmp_path, tiny_model, tiny_dataset):
    """The plugin README's whole recipe, with only the model, data and output paths replaced, trains."""
    readme = (Path(__file__).parents[2] / "axolotl_packing_bench" / "plugin" / "README.md").read_text()
    block = readme.split("## A whole recipe", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    cfg = yaml.safe_load(block)
    assert cfg["bf16"] is False and cfg["fp16"] is False and "max_steps" not in cfg
    cfg["base_model"] = str(tiny_model)
    cfg["datasets"][0]["path"] = str(tiny_dataset)
    cfg.update(output_dir=str(tmp_path / "out"), dataset_prepared_path=str(tmp_path / "prepared"), max_steps=2)
    proc, metrics = axolotl_train(cfg, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert metrics is not None and metrics["status"] == "ok" and metrics["strategy"] == "bfd"
    assert metrics["training"]["steps"] == 2
