"""Tiny Llama-architecture models with random weights, saved for Axolotl.

Weights are fp32 safetensors from a fixed seed (same bytes for the same torch
version); the tokenizer is saved next to them so ``base_model: <dir>`` works.
The config leaves ``attn_implementation`` unset so Axolotl chooses it
(``sdp_attention``, ``flash_attention``...) and keeps ``use_cache: true`` as
released checkpoints do; training turns the cache off.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from axolotl_packing_bench.assets.specs import (
    MAX_POSITION_EMBEDDINGS,
    MODEL_SEED,
    ModelSpec,
)
from axolotl_packing_bench.assets.tokenizer import BOS, EOS, EOT, PAD, build_vocab

if TYPE_CHECKING:
    from transformers import LlamaConfig


def model_config(spec: ModelSpec) -> LlamaConfig:
    """The `LlamaConfig` of ``spec`` for the embedded tokenizer."""
    from transformers import LlamaConfig

    vocab = build_vocab()
    return LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=spec.hidden,
        num_hidden_layers=spec.layers,
        num_attention_heads=spec.heads,
        num_key_value_heads=spec.kv_heads,
        intermediate_size=spec.intermediate,
        max_position_embeddings=MAX_POSITION_EMBEDDINGS,
        rms_norm_eps=1e-5,
        rope_parameters={"rope_type": "default", "rope_theta": 500000.0},
        tie_word_embeddings=False,
        use_cache=True,
        bos_token_id=vocab[BOS],
        eos_token_id=vocab[EOS],
        pad_token_id=vocab[PAD],
        dtype="float32",
        architectures=["LlamaForCausalLM"],
    )


def save_model(spec: ModelSpec, directory: Path, tokenizer_dir: Path) -> None:
    """Initialize ``spec`` from `MODEL_SEED` and save it with the tokenizer files."""
    import torch
    from transformers import GenerationConfig, LlamaForCausalLM

    config = model_config(spec)
    with torch.random.fork_rng(devices=[]):  # leave the caller's RNG untouched
        torch.manual_seed(MODEL_SEED)
        model = LlamaForCausalLM(config).to(torch.float32)
    vocab = build_vocab()
    # Chat generations end at <|eot_id|>, plain text at <|end_of_text|> (as Llama 3).
    model.generation_config = GenerationConfig(
        bos_token_id=vocab[BOS],
        eos_token_id=[vocab[EOS], vocab[EOT]],
        pad_token_id=vocab[PAD],
    )
    model.save_pretrained(str(directory))
    for path in sorted(tokenizer_dir.iterdir()):
        shutil.copyfile(path, directory / path.name)
