"""transformers internals, imported here and nowhere else (see the `compat` package docstring).

from axolotl_packing_bench.compat.transformers_api import sdpa_mask
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from axolotl_packing_bench.compat.internals import Internal, lazy_names

TESTED = ("5.16.1", "5.20.1")
"""The transformers releases CI runs beside the oldest and newest Axolotl."""


def _internal(name: str, *locations: str) -> Internal:
    return Internal(
        name=name, distribution="transformers", locations=locations, tested=TESTED, adapter="transformers_api.py"
    )


INTERNALS: dict[str, Internal] = {
    item.name: item
    for item in (
        _internal(
            "AttentionInterface", "transformers:AttentionInterface", "transformers.modeling_utils:AttentionInterface"
        ),
        _internal("AttentionMaskInterface", "transformers.masking_utils:AttentionMaskInterface"),
        _internal("sdpa_mask", "transformers.masking_utils:sdpa_mask"),
        _internal("sdpa_attention_forward", "transformers.integrations.sdpa_attention:sdpa_attention_forward"),
    )
}

__getattr__ = lazy_names(INTERNALS, globals())


ATTRIBUTES = {
    "config._attn_implementation": "the attention backend a model config runs (read and switched per config)",
    "Trainer._get_num_items_in_batch": "what the trainer divides an accumulated step's loss by",
}
"""Private attributes of transformers objects the package reads or replaces, only through the functions below."""


def attn_implementation(config: Any) -> str | None:
    """The attention backend `config` runs (`sdpa`, `eager`, a registered name), or None when it has none."""
    value = getattr(config, "_attn_implementation", None)
    return None if value is None else str(value)


def set_attn_implementation(config: Any, name: str) -> None:
    """Make `config` (and the layers reading it) run the attention backend registered as `name`."""
    config._attn_implementation = name


def count_items_with(trainer: Any, count: Callable[[list[Any], Any], Any]) -> None:
    """Make `trainer` divide an accumulated step's loss by `count(batch_samples, device)` instead of its tokens."""
    trainer._get_num_items_in_batch = count


SHIFT_LABELS = "shift_labels"
"""Model input that transformers' causal LM loss (`ForCausalLMLoss`) reads as the targets, already shifted,
one per logit row, instead of shifting `labels` itself."""


def has_stock_causal_lm_forward(model: Any) -> bool:
    """Whether `model` (or the model under its PEFT wrapper) runs its class's own transformers forward.

    That forward sends the hidden states through `get_output_embeddings()` and passes its keyword
    arguments on to the loss. Liger's and Cut Cross Entropy's fused forwards replace it (they never
    build the logits at all), so do not count.
    """
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    forward = getattr(type(base), "forward", None)
    return str(getattr(forward, "__module__", "")).startswith("transformers.models.")


def has_stock_causal_lm_loss(model: Any) -> bool:
    """Whether `model`'s loss is transformers' own `ForCausalLMLoss` (which honours `SHIFT_LABELS`).

    Axolotl's chunked cross-entropy patch replaces it with a loss that splits 3-D logits.
    """
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    try:
        loss = base.loss_function
    except AttributeError:
        return False
    return getattr(loss, "__module__", None) == "transformers.loss.loss_utils" and (
        getattr(loss, "__name__", None) == "ForCausalLMLoss"
    )
