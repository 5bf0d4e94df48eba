"""The model the check runs: a random-initialised Llama of a given shape, on the device torch sees.

Two presets: `gpu`, about 1.1B parameters (Llama 3.2 1B's body with a 32k
vocabulary) in bf16, rows of 4,096 tokens; `cpu`, a tiny shape in fp32, rows
of 512, fast enough for CI. Random weights are enough: the check compares
attention paths on the same weights, it does not judge the model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModelShape:
    """A Llama's size and the packed row length it is checked with."""

    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    vocab: int
    row_tokens: int
    dtype: str  # "bfloat16" or "float32"

    def describe(self) -> str:
        return (
            f"hidden {self.hidden}, {self.layers} layers, {self.heads} heads ({self.kv_heads} kv), "
            f"intermediate {self.intermediate}, vocab {self.vocab}, {self.dtype}, rows of {self.row_tokens}"
        )


PRESETS: dict[str, ModelShape] = {
    "gpu": ModelShape(
        hidden=2048, layers=16, heads=32, kv_heads=8, intermediate=8192, vocab=32000, row_tokens=4096, dtype="bfloat16"
    ),
    "cpu": ModelShape(
        hidden=64, layers=2, heads=4, kv_heads=2, intermediate=128, vocab=512, row_tokens=512, dtype="float32"
    ),
}


def preset_for(device_type: str) -> str:
    """`gpu` on CUDA, `cpu` elsewhere."""
    return "gpu" if device_type == "cuda" else "cpu"


def with_overrides(shape: ModelShape, **overrides: Any) -> ModelShape:
    """`shape` with the given fields replaced (None values leave a field as it is)."""
    return dataclasses.replace(shape, **{k: v for k, v in overrides.items() if v is not None})


def build_model(shape: ModelShape, device: Any, *, seed: int = 0) -> Any:
    """A random-initialised `LlamaForCausalLM` of `shape` on `device`, in the shape's dtype, on sdpa, no KV cache."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    config = LlamaConfig(
        vocab_size=shape.vocab,
        hidden_size=shape.hidden,
        intermediate_size=shape.intermediate,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        num_key_value_heads=shape.kv_heads,
        max_position_embeddings=max(shape.row_tokens, 2048),
        use_cache=False,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    with torch.device(device):  # initialise on the device: a 1B model builds in seconds on a GPU
        model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa", dtype=getattr(torch, shape.dtype))
    return model.eval()
