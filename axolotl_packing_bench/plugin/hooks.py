"""`PackingBenchPlugin`, the Axolotl plugin class: packing strategies, attention isolation, probes and run metrics.

Enable it in an Axolotl YAML:

    plugins:
      - axolotl_packing_bench.PackingBenchPlugin
    packbench_strategy: bfd          # padding | random | greedy | bfd | sequential | native
                                     # | related | unrelated | single_turn
    packbench_attention: isolated    # isolated | shared
    packbench_loss: token            # token | sample (each sample's mean loss weighs the same)
    packbench_trained_logits_only: true  # the loss projects only trained positions through lm_head (exact)

The hooks stay thin: packing lives in `datasets` and `rows`, batching in
`collator`, the probe in `leakage`, the metrics in `metrics` and `callbacks`.
"""

from __future__ import annotations

import atexit
import functools
import logging
from pathlib import Path
from typing import Any

from axolotl_packing_bench.compat.axolotl_api import BasePlugin
from axolotl_packing_bench.constants import BASELINE_STRATEGY
from axolotl_packing_bench.plugin.args import NATIVE, PLUGIN_PATH, PackingBenchArgs

LOG = logging.getLogger("axolotl.packbench")

__all__ = ["PackingBenchArgs", "PackingBenchPlugin", "PLUGIN_PATH"]


class PackingBenchPlugin(BasePlugin):
    """Builds packed rows with the packing library and records what training did."""

    def __init__(self) -> None:
        super().__init__()
        self.recorder = None
        self.train_split = None
        from axolotl_packing_bench.plugin.batch_tokens import BatchTokens

        self.batch_tokens = BatchTokens()  # filled by the wrapped training_step, recorded when training ends

    def get_input_args(self) -> str:
        return "axolotl_packing_bench.plugin.args.PackingBenchArgs"

    # -- data -----------------------------------------------------------------
    def load_datasets(self, cfg, preprocess: bool = False):
        if cfg.packbench_strategy == NATIVE:
            return None
        from axolotl_packing_bench.plugin.datasets import load_packed_datasets

        if preprocess:  # `axolotl preprocess`: tokenize and cache, record nothing
            return load_packed_datasets(cfg)[0]
        recorder = self._recorder(cfg)
        try:
            meta, train, evaluation = load_packed_datasets(cfg)
        except BaseException as error:
            recorder.finish(status="failed", error=_one_line(error))
            raise
        self.train_split = train
        recorder.update(
            packing=train.summary(),
            eval_packing=evaluation.summary() if evaluation else None,
            dataset=_dataset_section(cfg, samples=train.samples, real_tokens=train.rows.real_tokens),
        )
        s = train.summary()
        if cfg.packbench_scale_lr and s["rows"]:
            scale = s["samples"] / s["rows"]
            recorder.update(learning_rate={"configured": cfg.learning_rate, "scale": round(scale, 6)})
            cfg.learning_rate = cfg.learning_rate * scale  # read when the trainer is built, after this hook
            LOG.info("packbench: learning rate scaled by %.3f samples per row to %.3g", scale, cfg.learning_rate)
        LOG.info(
            "packbench: %s packed %d samples (%d tokens) into %d rows of %d (lower bound %d, efficiency %.2f%%, "
            "%d truncated, %d split, %d dropped) in %.3fs, %s attention",
            s["strategy"],
            s["samples"],
            s["real_tokens"],
            s["rows"],
            cfg.sequence_len,
            s["lower_bound"],
            100 * s["efficiency"],
            s["truncated"],
            s["split"],
            s["dropped"],
            s["pack_seconds"],
            cfg.packbench_attention,
        )
        if s.get("relatedness"):
            r = s["relatedness"]
            LOG.info(
                "packbench: relatedness (%s groups from %s): %s of adjacent segments share a group "
                "(chance %s), within-row similarity %s (chance %s)",
                r["num_groups"],
                r["groups_from"],
                r["same_group_adjacent"],
                r["chance_same_group"],
                r["within_row_similarity"],
                r["chance_similarity"],
            )
        return meta

    def get_collator_cls_and_kwargs(self, cfg, is_eval: bool = False):
        if cfg.packbench_strategy == NATIVE:
            return None
        from axolotl_packing_bench.plugin.collator import PackedRowCollator

        return PackedRowCollator, {
            "attention": cfg.packbench_attention,
            "segment_ids": cfg.packbench_loss == "sample",
            "row_tokens": not is_eval,  # for the trainer's batch efficiency (plugin.batch_tokens pops it)
        }

    def get_training_args(self, cfg) -> dict[str, Any] | None:
        from axolotl_packing_bench.compat.axolotl_api import several_ranks_training_args

        # several processes: one data-parallel run (rows shared out, DDP, the token mean over every rank)
        args: dict[str, Any] = several_ranks_training_args(cfg)
        if cfg.packbench_strategy != NATIVE:
            # Rows carry `seq_lens` for the probe; the collator drops it before the model.
            args["remove_unused_columns"] = False
        return args or None

    # -- model ------------------------------------------------------------------
    def pre_model_load(self, cfg) -> None:
        from axolotl_packing_bench.compat.axolotl_api import keep_ranks_on_the_cpu

        if keep_ranks_on_the_cpu(cfg):
            LOG.info("packbench: %s processes without CUDA: each rank's model stays on the CPU", cfg.world_size)

    def post_model_load(self, cfg, model) -> None:
        # A KV cache object switches off transformers' packed-sequence detection.
        config = getattr(model, "config", None)
        if config is not None:
            config.use_cache = False
        if _wants_segment_attention(cfg):
            from axolotl_packing_bench.plugin.segment_attention import use_segment_attention

            if use_segment_attention(model):
                LOG.info("packbench: isolated rows run sdpa segment by segment (packbench_sdpa_varlen)")
        if self.recorder is not None:
            self.recorder.update(
                model={
                    "path": cfg.base_model,
                    "parameters": sum(p.numel() for p in model.parameters()),
                }
            )

    # -- trainer ----------------------------------------------------------------
    def post_trainer_create(self, cfg, trainer) -> None:
        recorder = self._recorder(cfg)
        if cfg.packbench_strategy == NATIVE:
            from axolotl_packing_bench.plugin.datasets import native_packing_summary

            summary = native_packing_summary(trainer)
            recorder.update(
                packing=summary,
                dataset=_dataset_section(
                    cfg, samples=summary and summary["samples"], real_tokens=summary and summary["real_tokens"]
                ),
            )
        if cfg.packbench_loss == "sample":
            from axolotl_packing_bench.plugin.loss import install_sample_loss

            install_sample_loss(trainer)
        if cfg.packbench_trained_logits_only:
            from axolotl_packing_bench.plugin.trained_logits import install_trained_logits

            install_trained_logits(
                trainer, loss_mode=cfg.packbench_loss, report=lambda figures: recorder.update(trained_logits=figures)
            )
        else:
            recorder.update(trained_logits={"enabled": False, "reason": "packbench_trained_logits_only: false"})
        if cfg.packbench_record_rows:
            from axolotl_packing_bench.plugin.row_log import install_row_log

            install_row_log(trainer, cfg.output_dir or ".")
        from axolotl_packing_bench.plugin.batch_tokens import install_batch_counter

        install_batch_counter(trainer, self.batch_tokens)
        recorder.update(loss_mode=cfg.packbench_loss, processes=trainer.args.world_size)
        recorder.update(
            learning_rate={**(recorder.data.get("learning_rate") or {}), "used": trainer.args.learning_rate}
        )
        trainer.train = _record_failures(trainer.train, recorder)

    def add_callbacks_post_trainer(self, cfg, trainer) -> list:
        from axolotl_packing_bench.plugin.callbacks import PackBenchCallback

        callbacks = [
            PackBenchCallback(cfg=cfg, trainer=trainer, recorder=self._recorder(cfg), batch_tokens=self.batch_tokens)
        ]
        if cfg.packbench_heldout:
            from axolotl_packing_bench.plugin.heldout import HeldoutLossCallback

            # First, so the held-out loss is recorded before the metrics file is written at train end.
            callbacks.insert(0, HeldoutLossCallback(cfg=cfg, trainer=trainer, recorder=self._recorder(cfg)))
        return callbacks

    # -- helpers ------------------------------------------------------------------
    def _recorder(self, cfg):
        if self.recorder is None:
            from axolotl_packing_bench.plugin.metrics import RunMetrics

            self.recorder = RunMetrics(
                path=Path(cfg.output_dir or ".") / cfg.packbench_metrics_file,
                strategy=cfg.packbench_strategy,
                attention=cfg.packbench_attention,  # native: always NATIVE_ATTENTION (the args check refuses others)
                eval_strategy=cfg.packbench_eval_strategy or cfg.packbench_strategy,
                capacity=cfg.sequence_len,
            )
            atexit.register(_finish_if_unfinished, self.recorder)
        return self.recorder


def _wants_segment_attention(cfg) -> bool:
    return bool(
        cfg.packbench_sdpa_varlen
        and cfg.packbench_attention == "isolated"
        and cfg.packbench_strategy not in (NATIVE, BASELINE_STRATEGY)
    )


def _dataset_section(cfg, *, samples: int | None, real_tokens: int | None) -> dict[str, Any]:
    paths = [str(d.get("path")) for d in (cfg.datasets or [])]
    return {"paths": paths, "samples": samples, "real_tokens": real_tokens}


def _record_failures(train, recorder):
    """Wrap `trainer.train` so a crash still writes what was known."""

    @functools.wraps(train)
    def train_and_record(*args, **kwargs):
        try:
            return train(*args, **kwargs)
        except BaseException as error:
            recorder.finish(status="failed", error=_one_line(error))
            raise

    return train_and_record


def _finish_if_unfinished(recorder) -> None:
    if not recorder.written and recorder.data.get("training") is None and recorder.data.get("packing"):
        recorder.finish(status="failed", error="the run ended before training finished")


def _one_line(error: BaseException) -> str:
    """`Type: first line of the message`, redacted: it goes to the metrics file and the results."""
    from axolotl_packing_bench.core.redaction import redact

    text = str(error).strip().splitlines()
    return redact(f"{type(error).__name__}: {text[0] if text else ''}".strip()) or ""
