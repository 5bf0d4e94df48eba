"""Real Axolotl runs of the plugin on the embedded tiny model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from axolotl_packing_bench.plugin.args import PLUGIN_PATH

AXOLOTL = str(Path(sys.executable).with_name("axolotl"))


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> str:
    """120 synthetic chats, a few longer than the 256-token capacity used below."""
    from axolotl_packing_bench.assets import ensure_dataset

    return str(ensure_dataset(120, seed=1, overlong_fraction=0.05))


def recipe(model: str | Path, dataset_entries: list[dict[str, Any]], out: Path, **settings: Any) -> dict[str, Any]:
    """A small Axolotl recipe for the tiny model, with the plugin enabled."""
    cfg = {
        "base_model": str(model),
        "plugins": [PLUGIN_PATH],
        "datasets": dataset_entries,
        "sequence_len": 256,
        "micro_batch_size": 2,
        "gradient_accumulation_steps": 1,
        "num_epochs": 1,
        "learning_rate": 1e-3,
        "optimizer": "adamw_torch",
        "lr_scheduler": "cosine",
        "attn_implementation": "sdpa",
        "bf16": False,
        "fp16": False,
        "tf32": False,
        "val_set_size": 0,
        "logging_steps": 1,
        "save_strategy": "no",
        "seed": 0,
        "chat_template": "tokenizer_default",
        "eot_tokens": ["<|eot_id|>"],
        "dataset_num_proc": 1,
        "output_dir": str(out / "out"),
        "dataset_prepared_path": str(out / "prepared"),
    }
    cfg.update(settings)
    return cfg


def tiny_llama(backend: str):
    """A random two-layer Llama (GQA) on `backend` attention, KV cache off, for forward-pass tests."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=101,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=128,
        max_position_embeddings=512,
        pad_token_id=0,
        use_cache=False,
    )
    config._attn_implementation = backend
    return LlamaForCausalLM(config).eval()


def chat_dataset(path: str) -> list[dict[str, Any]]:
    return [
        {
            "path": path,
            "ds_type": "json",
            "type": "chat_template",
            "field_messages": "messages",
            "chat_template": "tokenizer_default",
            "roles_to_train": ["assistant"],
            "train_on_eos": "turn",
        }
    ]


def sharegpt_dataset(path: str) -> list[dict[str, Any]]:
    """The shared ShareGPT set's entry (`conversations` of `from`/`value` turns)."""
    return [
        {
            "path": path,
            "ds_type": "json",
            "type": "chat_template",
            "chat_template": "tokenizer_default",
            "field_messages": "conversations",
            "message_property_mappings": {"role": "from", "content": "value"},
            "roles": {"user": ["human"], "assistant": ["gpt"]},
        }
    ]


def axolotl_train(
    cfg: dict[str, Any], workdir: Path, *, timeout: int = 600
) -> tuple[subprocess.CompletedProcess, dict | None]:
    """Run `axolotl train` on `cfg`; return the process and the metrics file, if written."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "recipe.yml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [AXOLOTL, "train", str(path), "--launcher", "python"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    metrics_path = Path(cfg["output_dir"]) / "packbench_metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else None
    return proc, metrics


def packed_batch(
    attention: str, strategy: str = "bfd", *, seed: int = 0, **options: Any
) -> tuple[dict, list[list[int]]]:
    """Twelve random samples (seeded) packed by `strategy` into 96-token rows, collated as training collates
    them; returns the batch and each row's segment lengths."""
    import numpy as np

    from axolotl_packing_bench.packing import pack
    from axolotl_packing_bench.plugin.collator import PackedRowCollator
    from axolotl_packing_bench.plugin.rows import TokenizedSamples, build_rows

    rng = np.random.default_rng(seed)
    lengths = rng.integers(5, 40, size=12)
    ids = rng.integers(1, 100, size=int(lengths.sum()))
    data = TokenizedSamples(ids, ids.copy(), np.concatenate([[0], np.cumsum(lengths)]))
    rows = build_rows(data, pack(lengths, 96, strategy, **options), attention=attention)
    features = [
        {
            key: getattr(rows, key)[rows.row_offsets[r] : rows.row_offsets[r + 1]].tolist()
            for key in ("input_ids", "labels", "position_ids")
        }
        for r in range(rows.num_rows)
    ]
    segments = [
        rows.segment_lengths[rows.segment_offsets[r] : rows.segment_offsets[r + 1]].tolist()
        for r in range(rows.num_rows)
    ]
    batch = PackedRowCollator(type("T", (), {"pad_token_id": 0})(), attention=attention)(features)
    return batch, segments
