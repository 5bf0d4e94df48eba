"""The embedded default: a tiny Llama model, its tokenizer and synthetic SFT data.

Everything is built locally and deterministically on first use (no GPU, no
internet) and cached under ``$PACKBENCH_HOME`` (see `cache`). Importing this
package is cheap: torch and transformers load only when something is built.

    >>> from axolotl_packing_bench.assets import ensure_model, ensure_dataset
    >>> ensure_model("tiny-8b")          # a directory for Axolotl's base_model
    >>> ensure_dataset("synth-69k")      # a JSONL of OpenAI-format conversations
    >>> resolve_asset_uri("packbench://model/tiny-8b")
"""

from __future__ import annotations

from axolotl_packing_bench.assets.api import (
    dataset_stats,
    ensure_assets,
    ensure_dataset,
    ensure_heldout,
    ensure_heldout_chats,
    ensure_model,
    ensure_models,
    ensure_tokenizer,
    resolve_asset_uri,
    unbuilt_bases,
)
from axolotl_packing_bench.assets.cache import assets_root, packbench_home
from axolotl_packing_bench.assets.specs import (
    DATASETS,
    MODELS,
    RECIPE_VERSION,
    DatasetSpec,
    ModelSpec,
    default_models,
)
from axolotl_packing_bench.assets.synthetic import (
    Fact,
    conflicting_fact,
    conversation_num_tokens,
    count_tokens,
    few_shot_prompt,
    generate_dataset,
    heldout_chats,
    heldout_rows,
    passage,
    topic_facts,
)

__all__ = [
    "DATASETS",
    "MODELS",
    "RECIPE_VERSION",
    "DatasetSpec",
    "Fact",
    "ModelSpec",
    "assets_root",
    "conflicting_fact",
    "conversation_num_tokens",
    "count_tokens",
    "dataset_stats",
    "default_models",
    "ensure_assets",
    "ensure_dataset",
    "ensure_heldout",
    "ensure_heldout_chats",
    "ensure_model",
    "ensure_models",
    "ensure_tokenizer",
    "few_shot_prompt",
    "generate_dataset",
    "heldout_chats",
    "heldout_rows",
    "packbench_home",
    "passage",
    "resolve_asset_uri",
    "topic_facts",
    "unbuilt_bases",
]
