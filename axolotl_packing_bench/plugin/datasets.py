"""Load Axolotl's tokenized datasets and pack them with a packing-library strategy.

Axolotl still does everything up to tokenization (prompt strategies, chat
templates, label masking); it is only asked not to pack and not to drop
samples up to `packbench_max_sample_len`, so that the plugin's overflow policy
decides what happens to samples longer than `sequence_len`.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from axolotl_packing_bench.constants import NATIVE
from axolotl_packing_bench.packing import PackPlan, pack
from axolotl_packing_bench.plugin.rows import PackedRows, TokenizedSamples, build_rows

LOG = logging.getLogger("axolotl.packbench")


@dataclass(frozen=True)
class PackedSplit:
    """One split's packed rows, its plan and how long packing took."""

    rows: PackedRows
    plan: PackPlan
    samples: int
    seconds: float
    relatedness: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        """Packing figures for the run metrics."""
        plan = self.plan
        return {
            "strategy": plan.strategy,
            "rows": self.rows.num_rows,
            "lower_bound": plan.lower_bound,
            "efficiency": round(plan.efficiency, 6),
            "samples": self.samples,
            "real_tokens": self.rows.real_tokens,
            "truncated": plan.num_truncated,
            "split": plan.num_split,
            "dropped": plan.num_dropped_empty + plan.num_dropped_overlong,
            "dropped_tokens": plan.num_dropped_tokens,
            "pack_seconds": round(self.seconds, 4),
            "relatedness": self.relatedness,
        }


def pack_split(
    dataset,
    *,
    capacity: int,
    strategy: str,
    attention: str,
    seed: int,
    overflow: str,
    options: dict[str, Any],
    cfg=None,
    tokenizer=None,
    split: str = "train",
) -> PackedSplit:
    """Pack one tokenized split into rows.

    With `cfg`, strategies that take per-sample inputs get them (`groups=` for
    related/unrelated, `turns=` for single_turn; see `plugin.grouping`), and
    the plan's relatedness is measured when groups are known.
    """
    samples = TokenizedSamples.from_dataset(dataset)
    per_sample, groups, group_seconds = {}, None, 0.0
    if cfg is not None:
        from axolotl_packing_bench.plugin.grouping import per_sample_options

        per_sample, groups, group_seconds = per_sample_options(cfg, strategy, samples, tokenizer=tokenizer, split=split)
    started = time.perf_counter()
    plan = pack(samples.lengths, capacity, strategy, seed=seed, overflow=overflow, **options, **per_sample)
    rows = build_rows(samples, plan, attention=attention)
    seconds = time.perf_counter() - started
    relatedness = None
    if groups is not None:
        from axolotl_packing_bench.plugin.relatedness import relatedness_report

        relatedness = {
            **relatedness_report(plan, groups.labels, groups.vectors),
            "groups_from": groups.method,
            "num_groups": groups.num_groups,
            "group_seconds": round(group_seconds, 3),
        }
    return PackedSplit(rows=rows, plan=plan, samples=len(samples.lengths), seconds=seconds, relatedness=relatedness)


def strategy_options(cfg) -> dict[str, Any]:
    """Options a strategy takes from the config."""
    return {"keep_remainder": True} if cfg.packbench_keep_remainder else {}


def tokenize_config(cfg):
    """A copy of the Axolotl config that tokenizes without packing or dropping."""
    from axolotl_packing_bench.compat.axolotl_api import DictDefault

    max_len = cfg.packbench_max_sample_len  # resolved by the args model (derived_defaults)
    return DictDefault(
        {
            **cfg,
            "sequence_len": max_len,
            "eval_sequence_len": None,
            "sample_packing": False,
            "eval_sample_packing": False,
            "excess_length_strategy": "drop",
        }
    )


def check_local_datasets(cfg) -> None:
    """Check the local dataset files before Axolotl loads them (as `packbench validate` and `stats` do).

    Raises:
        DatasetFileError: One sentence naming the file, the line and the fix
            (also repeated as the run's last line, see `core.last_word`).
    """
    from axolotl_packing_bench.core.last_word import fatal
    from axolotl_packing_bench.data.files import DatasetFileError, check_dataset_entries

    try:
        check_dataset_entries(cfg.datasets or [])
    except DatasetFileError as error:
        fatal(str(error))
        raise


def load_packed_datasets(cfg) -> tuple[Any, PackedSplit, PackedSplit | None]:
    """Axolotl's tokenized train/eval splits, packed per the plugin's config.

    Returns:
        `(TrainDatasetMeta, train split, eval split or None)`.
    """
    from axolotl_packing_bench.compat.axolotl_api import TrainDatasetMeta, load_tokenizer, tokenized_splits

    check_local_datasets(cfg)
    tokenizer = load_tokenizer(cfg)
    train_dataset, eval_dataset = tokenized_splits(tokenize_config(cfg), tokenizer)
    common = dict(
        capacity=cfg.sequence_len,
        attention=cfg.packbench_attention,
        seed=cfg.packbench_seed,
        overflow=cfg.packbench_overflow,
        options=strategy_options(cfg),
        cfg=cfg,
        tokenizer=tokenizer,
    )
    train = pack_split(train_dataset, strategy=cfg.packbench_strategy, **common)
    evaluation = None
    if eval_dataset is not None and len(eval_dataset):
        evaluation = pack_split(eval_dataset, strategy=cfg.packbench_eval_strategy, split="eval", **common)

    batch = (cfg.micro_batch_size or 1) * (cfg.gradient_accumulation_steps or 1) * max(cfg.world_size or 1, 1)
    total_steps = math.ceil(train.rows.num_rows * (cfg.num_epochs or 1) / batch)
    if cfg.max_steps:
        total_steps = min(total_steps, cfg.max_steps)
    meta = TrainDatasetMeta(
        train_dataset=train.rows.to_dataset(),
        eval_dataset=evaluation.rows.to_dataset() if evaluation else None,
        total_num_steps=total_steps,
    )
    return meta, train, evaluation


def native_packing_summary(trainer) -> dict[str, Any] | None:
    """Rows and efficiency of Axolotl's own multipack sampler, for the `native` row."""
    from axolotl_packing_bench.compat.axolotl_api import train_sampler

    try:
        sampler = train_sampler(trainer)
        batches = sampler.generate_batches(set_stats=True)
    except Exception as error:  # the summary is informative only; never stop a run for it
        LOG.warning("packbench: could not read Axolotl's packing statistics: %s", error)
        return None
    lengths = np.asarray(sampler.lengths, dtype=np.int64)
    total = int(lengths.sum())
    capacity = int(sampler.batch_max_len)
    return {
        "strategy": NATIVE,
        "rows": int(sum(len(batch) for batch in batches)),
        "lower_bound": math.ceil(total / capacity) if capacity else 0,
        "efficiency": round(sampler.efficiency(), 6),
        "samples": int(len(lengths)),
        "real_tokens": total,
        "truncated": 0,
        "split": 0,
        "dropped": 0,
    }
