"""The plugin's Axolotl config keys: every default is written here, once.

Axolotl merges this model into its own config schema, so each field becomes a
flat top-level YAML key. Mistakes fail at config validation with one sentence.
Defaults shared with other parts come from `axolotl_packing_bench.constants`;
defaults that follow from other keys (`derived_defaults`: the eval strategy,
the seed, the longest sample tokenized) are resolved here, once, so the
plugin's code reads every value from the validated config.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from axolotl_packing_bench.constants import (
    ATTENTIONS,
    DEFAULT_ATTENTION,
    DEFAULT_GROUPS_K,
    DEFAULT_STRATEGY,
    HELDOUT_CHATS_URI,
    MAX_SAMPLE_LEN_FACTOR,
    METRICS_FILE,
    NATIVE,
    PLUGIN_PATH,
    sample_packing_for,
)
from axolotl_packing_bench.core.last_word import fatal

__all__ = ["NATIVE", "PLUGIN_PATH", "PackingBenchArgs", "attention_backend", "derived_defaults"]

# Attention backends whose isolation comes from restarted position ids with no
# 2-D mask (transformers' packed-sequence detection), and which therefore also
# run `shared` rows as plain causal attention.
POSITION_ID_BACKENDS = ("eager", "sdpa", "flash_attention_2", "flash_attention_3")
LEGACY_BACKEND_FLAGS = {
    "flash_attention": "flash_attention_2",
    "sdp_attention": "sdpa",
    "eager_attention": "eager",
    "flex_attention": "flex_attention",
    "xformers_attention": "xformers",
    "sage_attention": "sage",
    "s2_attention": "s2",
}


def attention_backend(data: dict[str, Any]) -> str:
    """The attention backend an Axolotl config asks for (transformers' default: sdpa)."""
    if data.get("attn_implementation"):
        return str(data["attn_implementation"])
    for flag, backend in LEGACY_BACKEND_FLAGS.items():
        if data.get(flag):
            return backend
    return "sdpa"


def _uses_plugin(data: dict[str, Any]) -> bool:
    class_name = PLUGIN_PATH.rsplit(".", 1)[1]
    return any(str(p).endswith(class_name) for p in data.get("plugins") or [])


def derived_defaults(values: Mapping[str, Any]) -> dict[str, Any]:
    """The unset `packbench_*` keys whose defaults follow from other keys of the config, resolved.

    - `packbench_eval_strategy`: `packbench_strategy` (native: left unset, Axolotl packs eval too).
    - `packbench_seed`: Axolotl's `seed` (0 when unset).
    - `packbench_max_sample_len`: `MAX_SAMPLE_LEN_FACTOR` x `sequence_len` (native: left unset).
    """
    strategy = values.get("packbench_strategy") or DEFAULT_STRATEGY
    derived: dict[str, Any] = {}
    if values.get("packbench_seed") is None:
        derived["packbench_seed"] = int(values.get("seed") or 0)
    if strategy == NATIVE:  # its other keys are refused when set, so they stay unset
        return derived
    if values.get("packbench_eval_strategy") is None:
        derived["packbench_eval_strategy"] = strategy
    if values.get("packbench_max_sample_len") is None and values.get("sequence_len"):
        derived["packbench_max_sample_len"] = MAX_SAMPLE_LEN_FACTOR * int(values["sequence_len"])
    return derived


class PackingBenchArgs(BaseModel):
    """Config keys of `axolotl_packing_bench.PackingBenchPlugin`."""

    packbench_strategy: str = Field(
        default=DEFAULT_STRATEGY,
        description="How training rows are built: padding | random | greedy | bfd | "
        "sequential | native (Axolotl's own sample_packing) | any registered strategy.",
    )
    packbench_attention: Literal[ATTENTIONS] = Field(  # type: ignore[valid-type]
        default=DEFAULT_ATTENTION,
        description="isolated: each segment attends only to itself (positions restart); "
        "shared: plain concatenation, positions continue through the row.",
    )
    packbench_eval_strategy: str | None = Field(
        default=None, description="Strategy for the eval split; defaults to packbench_strategy."
    )
    packbench_overflow: Literal["truncate", "drop", "split"] = Field(
        default="truncate",
        description="What happens to samples longer than sequence_len.",
    )
    packbench_max_sample_len: int | None = Field(
        default=None,
        description="Longest sample tokenized before the overflow policy applies; longer "
        f"ones are dropped by Axolotl. Defaults to {MAX_SAMPLE_LEN_FACTOR} x sequence_len.",
    )
    packbench_seed: int | None = Field(
        default=None, description="Seed for strategies that shuffle; defaults to Axolotl's seed."
    )
    packbench_keep_remainder: bool = Field(
        default=False,
        description="random strategy: keep the short last row (the paper drops it).",
    )
    packbench_probe_leakage: bool = Field(
        default=True, description="Measure cross-segment leakage on real batches before training."
    )
    packbench_probe_batches: int = Field(default=2, ge=1)
    packbench_leakage_tolerance: float = Field(default=1e-4, gt=0)
    packbench_fail_on_leakage: bool = Field(default=False, description="Stop the run when isolated attention leaks.")
    packbench_equivalence_check: bool = Field(
        default=False,
        description="At train start, check that the first packed batch gives the loss and gradient of the same "
        "samples padded (token and sample averages; plugin/equivalence.py); recorded as `equivalence` in the metrics.",
    )
    packbench_metrics_file: str = Field(default=METRICS_FILE, description="Run metrics file, in output_dir.")
    packbench_sdpa_varlen: bool = Field(
        default=True,
        description="isolated rows on sdpa run attention segment by segment (cost: the sum of each segment's "
        "length squared, as flash-attention varlen), exact; false keeps transformers' block mask over the "
        "whole row. padding and native runs keep plain sdpa either way.",
    )
    packbench_record_rows: bool = Field(
        default=False,
        description="each process writes the packed rows it trains on to packbench_rows.rank<RANK>.jsonl in "
        "output_dir (a digest per row), to check that several processes train every row once per epoch.",
    )
    packbench_loss: Literal["token", "sample"] = Field(
        default="token",
        description="token: the mean over every trained token of the batch (long samples weigh more); "
        "sample: the mean of each sample's mean token loss (LongAlign), counted over the accumulated batch.",
    )
    packbench_trained_logits_only: bool = Field(
        default=True,
        description="The training loss sends only the positions whose next label is trained through the output "
        "layer (lm_head), not padding, prompts or segment ends: the same loss and gradients (float rounding), "
        "less compute (plugin/trained_logits.py). Off by itself under label smoothing or a patched forward or "
        "loss (Liger, Cut Cross Entropy, chunked cross-entropy); false: every position, as transformers does.",
    )
    packbench_group_field: str | None = Field(
        default=None,
        description="Dataset field holding each sample's group (e.g. topic) for related/unrelated, read from "
        "the source files in Axolotl's merge order; unset: TF-IDF clusters of the tokenized samples.",
    )
    packbench_groups_k: int = Field(
        default=DEFAULT_GROUPS_K, ge=1, description="Groups (k-means clusters) when they are computed rather than read."
    )
    packbench_group_method: Literal["tfidf", "embedding"] = Field(
        default="tfidf",
        description="How computed groups cluster samples: TF-IDF of their tokens, or embeddings of their "
        "decoded text by packbench_group_embedding_model.",
    )
    packbench_group_embedding_model: str | None = Field(
        default=None, description="Local sentence-transformers directory for packbench_group_method: embedding."
    )
    packbench_relatedness: bool = Field(
        default=True,
        description="Record how related the segments sharing a row are (packing.relatedness), for every "
        "packing strategy; computes groups if the strategy does not.",
    )

    packbench_heldout: str | None = Field(
        default=None,
        description="Chat file (JSON/JSONL: OpenAI messages, ShareGPT or Alpaca) scored after training for the "
        "held-out loss: one chat per row, unpacked, loss on assistant replies, the same for every strategy. "
        f"{HELDOUT_CHATS_URI} is the embedded default's. Unset: no held-out loss.",
    )
    packbench_heldout_max_samples: int | None = Field(
        default=None, ge=1, description="Score only the first N held-out chats."
    )
    packbench_heldout_batch_size: int = Field(default=16, ge=1, description="Held-out chats scored per forward.")

    packbench_scale_lr: bool = Field(
        default=False,
        description="Multiply learning_rate by the mean number of samples per packed training row (padding: 1), "
        "so a packed step's learning rate follows the samples it holds (the paper's batch-size remark).",
    )

    @field_validator("packbench_strategy", "packbench_eval_strategy")
    @classmethod
    def _known_strategy(cls, value: str | None) -> str | None:
        from axolotl_packing_bench.packing.registry import known_strategies

        if value is not None and value not in known_strategies():
            raise ValueError(fatal(f"unknown packbench strategy {value!r}; use one of {', '.join(known_strategies())}"))
        return value

    @model_validator(mode="before")
    @classmethod
    def _consistent_with_axolotl(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not _uses_plugin(data):
            return data
        strategy = data.get("packbench_strategy", cls.model_fields["packbench_strategy"].default)
        backend = attention_backend(data)
        if strategy == NATIVE:
            ignored = [
                key
                for key in (
                    "packbench_attention",
                    "packbench_overflow",
                    "packbench_eval_strategy",
                    "packbench_keep_remainder",
                    "packbench_max_sample_len",
                    "packbench_loss",
                    "packbench_group_field",
                    "packbench_sdpa_varlen",
                    "packbench_scale_lr",
                )
                if key in data and data[key] != cls.model_fields[key].default
            ]  # packbench_attention's default is NATIVE_ATTENTION, the only one native runs
            if ignored:
                raise ValueError(
                    fatal(
                        f"packbench_strategy: native hands packing to Axolotl's sample_packing, which "
                        f"ignores {', '.join(ignored)}; remove {'them' if len(ignored) > 1 else 'it'}"
                    )
                )
            if data.get("sample_packing") is False:
                raise ValueError(
                    fatal("packbench_strategy: native needs Axolotl's sample_packing; remove `sample_packing: false`")
                )
            return {**data, "sample_packing": sample_packing_for(strategy)}
        if data.get("sample_packing") and not sample_packing_for(strategy):
            raise ValueError(
                fatal(
                    f"packbench_strategy: {strategy} builds the packed rows itself; remove "
                    "`sample_packing: true` (or use packbench_strategy: native for Axolotl's packer)"
                )
            )
        if data.get("packbench_group_method") == "embedding" and not data.get("packbench_group_embedding_model"):
            raise ValueError(
                fatal(
                    "packbench_group_method: embedding needs packbench_group_embedding_model, the path of a local "
                    "sentence-transformers model (nothing is downloaded); or use packbench_group_method: tfidf"
                )
            )
        if backend not in POSITION_ID_BACKENDS:
            raise ValueError(
                fatal(
                    f"attention backend {backend!r} cannot run packbench rows "
                    f"({data.get('packbench_attention', DEFAULT_ATTENTION)} attention needs position-id "
                    f"packing); use attn_implementation one of {', '.join(POSITION_ID_BACKENDS)}"
                )
            )
        return data

    @model_validator(mode="after")
    def _resolve_derived_defaults(self) -> PackingBenchArgs:
        # `self` is Axolotl's whole config (this model merged into it), so sequence_len and seed are there
        values = {
            name: getattr(self, name, None)
            for name in (
                "packbench_strategy",
                "packbench_eval_strategy",
                "packbench_seed",
                "packbench_max_sample_len",
                "seed",
                "sequence_len",
            )
        }
        for name, value in derived_defaults(values).items():
            setattr(self, name, value)
        return self
