"""Per-sample inputs of group-aware strategies, for Axolotl's tokenized samples.

Axolotl's tokenization drops every dataset column but `input_ids`/`labels`,
so a sample's topic field is gone by the time the plugin packs. Two ways back:

- **TF-IDF of the tokens (default, always works).** Each tokenized sample is
  a bag of token ids; TF-IDF vectors of those bags are clustered into
  `packbench_groups_k` groups by seeded k-means. No decoding, any tokenizer;
  template tokens occur in every sample and weigh almost nothing. On the
  embedded synthetic data it recovers the 24 topics almost exactly.
  `packbench_group_method: embedding` decodes the samples and clusters the
  embeddings of a local model (`packbench_group_embedding_model`) instead.
- **A dataset field (`packbench_group_field: topic`).** The source files of
  `cfg.datasets` are read again with Axolotl's own loader and merged with its
  own `merge_datasets` (so `shuffle_merged_datasets`, on by default, shuffles
  them with the same seed into the same order). This is only valid when
  nothing after the merge removes or reorders rows: no `val_set_size`, no
  deduplication, no shards, no dropped samples. The plugin checks this: the
  row count must match, and the decoded text of sampled rows must contain
  their source text; otherwise it stops with an error naming the fix.

`single_turn` gets `turns=`: the runs of trained labels in each sample, one
per assistant turn under Axolotl's default masking (with `train_on_inputs`
every sample is one run, i.e. single-turn).
"""

from __future__ import annotations

import inspect
import logging
import re
import time
from typing import Any

import numpy as np

from axolotl_packing_bench.constants import BASELINE_STRATEGY
from axolotl_packing_bench.plugin.rows import IGNORE_INDEX, TokenizedSamples

LOG = logging.getLogger("axolotl.packbench")

GROUP_OPTION = "groups"
TURNS_OPTION = "turns"
RELATEDNESS_MAX_SAMPLES = 200_000
"""Above this many samples, relatedness is measured only for strategies that need groups anyway
(TF-IDF of every sample of a 1M-sample dataset takes gigabytes)."""
CHECKED_ROWS = 64
MIN_MATCHING_SHARE = 0.9


def strategy_parameters(strategy: str) -> set[str]:
    """Keyword parameters of a registered strategy."""
    from axolotl_packing_bench.packing.registry import get_strategy

    try:
        fn = get_strategy(strategy)
    except ValueError:
        return set()
    return set(inspect.signature(fn).parameters)


def assistant_turns(samples: TokenizedSamples) -> np.ndarray:
    """int64 runs of trained (label != -100) tokens in each sample."""
    trained = samples.labels != IGNORE_INDEX
    starts = np.zeros(trained.shape[0], dtype=bool)
    starts[1:] = trained[1:] & ~trained[:-1]
    firsts = samples.offsets[:-1][samples.lengths > 0]  # a run never continues from the previous sample
    starts[firsts] = trained[firsts]
    cumulative = np.concatenate([[0], np.cumsum(starts)])
    return (cumulative[samples.offsets[1:]] - cumulative[samples.offsets[:-1]]).astype(np.int64)


def _decode_all(samples: TokenizedSamples, tokenizer: Any) -> list[str]:
    return [
        tokenizer.decode(samples.input_ids[a:b].tolist(), skip_special_tokens=True)
        for a, b in zip(samples.offsets[:-1], samples.offsets[1:])
    ]


def compute_sample_groups(cfg, samples: TokenizedSamples, *, tokenizer: Any = None, split: str = "train"):
    """Groups (and vectors) of one split's tokenized samples, per the config.

    Returns:
        a `relatedness.SampleGroups`, with `method` saying where groups came from.
    """
    from axolotl_packing_bench.plugin import relatedness

    seed = cfg.packbench_seed  # resolved by the args model (derived_defaults)
    pad = getattr(tokenizer, "pad_token_id", None)
    vectors = relatedness.token_tfidf_vectors(samples.input_ids, samples.offsets, ignore=[] if pad is None else [pad])
    if cfg.packbench_group_field and split == "train":
        labels = field_groups(cfg, cfg.packbench_group_field, samples, tokenizer)
        return relatedness.SampleGroups(labels, vectors, f"field:{cfg.packbench_group_field}")
    if cfg.packbench_group_method == "embedding":
        if tokenizer is None:
            raise ValueError("packbench_group_method: embedding needs the tokenizer to decode samples")
        vectors = relatedness.embedding_vectors(_decode_all(samples, tokenizer), cfg.packbench_group_embedding_model)
        return relatedness.SampleGroups(
            relatedness.cluster(vectors, cfg.packbench_groups_k, seed=seed), vectors, "embedding"
        )
    return relatedness.SampleGroups(relatedness.cluster(vectors, cfg.packbench_groups_k, seed=seed), vectors, "tfidf")


def per_sample_options(
    cfg, strategy: str, samples: TokenizedSamples, *, tokenizer: Any = None, split: str = "train"
) -> tuple[dict[str, Any], Any, float]:
    """Options a strategy takes per sample (`groups=`, `turns=`), the groups, and seconds spent.

    Groups are computed when the strategy takes them, or when
    `packbench_relatedness` asks for the relatedness report of any packing
    strategy (padding holds one sample per row: nothing to report) on up to
    `RELATEDNESS_MAX_SAMPLES` samples.
    """
    started = time.perf_counter()
    parameters = strategy_parameters(strategy)
    options: dict[str, Any] = {}
    groups = None
    n = samples.offsets.shape[0] - 1
    report_only = cfg.packbench_relatedness and strategy != BASELINE_STRATEGY and n <= RELATEDNESS_MAX_SAMPLES
    if cfg.packbench_relatedness and strategy != BASELINE_STRATEGY and n > RELATEDNESS_MAX_SAMPLES:
        LOG.info(
            "packbench: relatedness not measured for %d samples (> %d); strategy %s needs no groups",
            n,
            RELATEDNESS_MAX_SAMPLES,
            strategy,
        )
    if GROUP_OPTION in parameters or report_only:
        groups = compute_sample_groups(cfg, samples, tokenizer=tokenizer, split=split)
        if GROUP_OPTION in parameters:
            options[GROUP_OPTION] = groups.labels
    if TURNS_OPTION in parameters:
        options[TURNS_OPTION] = assistant_turns(samples)
    return options, groups, time.perf_counter() - started


# ---------------------------------------------------------------- groups from a source field


class GroupFieldError(ValueError):
    """The group field cannot be matched to Axolotl's tokenized samples."""


def _fix() -> str:
    return "unset packbench_group_field to cluster the tokenized samples by TF-IDF instead"


def source_rows(cfg) -> list[dict[str, Any]]:
    """The raw training rows in the order Axolotl merges them (before tokenization)."""
    from datasets import DatasetDict, IterableDatasetDict

    from axolotl_packing_bench.compat.axolotl_api import (
        datasets_with_name_generator,
        load_source_dataset,
        merge_datasets,
    )

    loaded = []
    for config in datasets_with_name_generator(cfg.datasets or []):
        if config.shards:
            raise GroupFieldError(f"packbench_group_field cannot follow rows through `shards`; {_fix()}")
        dataset = load_source_dataset(config, cfg)
        if isinstance(dataset, (DatasetDict, IterableDatasetDict)):
            key = config.split if config.split and config.split in dataset else "train"
            if key not in dataset:
                raise GroupFieldError(f"dataset {config.path} has no {key!r} split; {_fix()}")
            dataset = dataset[key]
        loaded.append(dataset)
    merged = merge_datasets(loaded, cfg)  # Axolotl's own merge: same shuffle, same seed
    return merged.to_list()


def _squashed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def field_groups(cfg, field: str, samples: TokenizedSamples, tokenizer: Any) -> np.ndarray:
    """Group codes from `field` of the source rows, checked against the tokenized samples.

    Raises:
        GroupFieldError: the rows cannot be matched one to one (see the module docstring).
    """
    from axolotl_packing_bench.plugin import relatedness

    # the merge (and its shuffles) is replayed exactly; these act after it
    blockers = [key for key in ("val_set_size", "dataset_exact_deduplication", "dataset_shard_num") if cfg.get(key)]
    if blockers:
        raise GroupFieldError(
            f"packbench_group_field cannot follow rows through {', '.join(blockers)}, which reorder or remove "
            f"rows after loading; {_fix()}"
        )
    rows = source_rows(cfg)
    n = samples.offsets.shape[0] - 1
    if len(rows) != n:
        raise GroupFieldError(
            f"packbench_group_field: the source has {len(rows)} rows but Axolotl kept {n} samples (some were "
            f"dropped, e.g. longer than packbench_max_sample_len), so rows cannot be matched; {_fix()}"
        )
    if tokenizer is not None and n:
        checked = np.unique(np.linspace(0, n - 1, num=min(CHECKED_ROWS, n)).astype(np.int64))
        matches = 0
        for i in checked:
            decoded = _squashed(
                tokenizer.decode(
                    samples.input_ids[samples.offsets[i] : samples.offsets[i + 1]].tolist(), skip_special_tokens=True
                )
            )
            text = relatedness.sample_text(rows[i])
            snippet = _squashed(max(text.split("\n"), key=len))[:40] if text else ""
            matches += bool(snippet) and snippet in decoded
        if matches < MIN_MATCHING_SHARE * len(checked):
            raise GroupFieldError(
                f"packbench_group_field: only {matches} of {len(checked)} checked samples match their source rows, "
                f"so Axolotl changed the row order; {_fix()}"
            )
    try:
        return relatedness.groups_from_field(rows, field)
    except ValueError as error:
        raise GroupFieldError(f"packbench_group_field: {error}") from None
