"""Tiny Llama-architecture models, initialized from a fixed seed and pre-trained, saved for Axolotl.

Weights are fp32 safetensors from a fixed seed (same bytes for the same torch
version); a base with a pre-training recipe is then pre-trained on the
synthetic world (`pretrain`) and its `pretraining.json` records the recipe,
its hash, the loss curve and the time taken. The tokenizer is saved next to
the weights so ``base_model: <dir>`` works.
The config leaves ``attn_implementation`` unset so Axolotl chooses it
(``sdp_attention``, ``flash_attention``...) and keeps ``use_cache: true`` as
released checkpoints do; training turns the cache off.
"""

from __future__ import annotations

import json
import shutil
import sys
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


PRETRAINING_FILE = "pretraining.json"


def save_model(spec: ModelSpec, directory: Path, tokenizer_dir: Path, *, show_progress: bool = True) -> None:
    """Initialize ``spec`` from `MODEL_SEED`, pre-train it if it has a recipe, save it with the tokenizer files."""
    import torch
    from transformers import GenerationConfig, LlamaForCausalLM

    config = model_config(spec)
    with torch.random.fork_rng(devices=[]):  # leave the caller's RNG untouched
        torch.manual_seed(MODEL_SEED)
        model = LlamaForCausalLM(config).to(torch.float32)
        if spec.pretrain is not None:
            report = _pretrain(model, spec, tokenizer_dir, show_progress=show_progress)
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
    if spec.pretrain is not None:
        (directory / PRETRAINING_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def _pretrain(model, spec: ModelSpec, tokenizer_dir: Path, *, show_progress: bool) -> dict:
    from tqdm.auto import tqdm
    from transformers import AutoTokenizer

    from axolotl_packing_bench.assets.pretrain import pretrain
    from axolotl_packing_bench.compat.transformers_api import attn_implementation, set_attn_implementation

    chosen = attn_implementation(model.config)
    set_attn_implementation(model.config, "sdpa")
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir), local_files_only=True)
    from axolotl_packing_bench.assets.specs import MODELS

    bases = [name for name, other in MODELS.items() if other.pretrain is not None]
    line = bases.index(spec.name) if spec.name in bases else 0  # bases built side by side keep their own line
    with tqdm(
        total=spec.pretrain.steps,
        desc=f"pre-training {spec.name}",
        unit="step",
        file=sys.stderr,
        disable=not show_progress,
        mininterval=2.0,
        position=line,
    ) as bar:

        def advance(step: int, steps: int, loss: float) -> None:
            bar.update(1)
            if step % 50 == 0:
                bar.set_postfix(loss=f"{loss:.3f}")

        report = pretrain(model, tokenizer, spec.pretrain, progress=advance)
    set_attn_implementation(model.config, chosen)  # saved as before: Axolotl chooses the backend
    return {
        "model": spec.name,
        "architecture": dict(zip(("hidden", "layers", "heads", "kv_heads", "intermediate"), spec.architecture)),
        **report,
    }
