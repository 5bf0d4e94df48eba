"""Trainer callbacks: the leakage probe before training, the run metrics after."""

from __future__ import annotations

import logging
from typing import Any, Iterator

import numpy as np
import torch
from transformers import TrainerCallback

from axolotl_packing_bench.plugin.leakage import LeakageReport, measure_leakage, segments_from_positions
from axolotl_packing_bench.plugin.metrics import RunMetrics

LOG = logging.getLogger("axolotl.packbench")


class LeakageError(RuntimeError):
    """Isolated attention leaked and the config asked to fail on it."""


def probe_batches(trainer, *, num_batches: int) -> Iterator[tuple[dict[str, torch.Tensor], list[list[int]]]]:
    """Real training batches with each row's segment lengths.

    Rows packed by the plugin carry `seq_lens`; the rows holding the most
    segments (where leakage could show) are collated by the trainer's own
    collator. Axolotl's own packing (`native`) is read from the trainer's
    dataloader and its segments found where positions restart.
    """
    dataset = trainer.train_dataset
    size = trainer.args.per_device_train_batch_size
    if "seq_lens" in dataset.column_names:
        segment_counts = np.fromiter((len(s) for s in dataset["seq_lens"]), dtype=np.int64, count=len(dataset))
        chosen = np.argsort(-segment_counts, kind="stable")[: num_batches * size].tolist()
        for start in range(0, len(chosen), size):
            rows = [dataset[i] for i in chosen[start : start + size]]
            yield trainer.data_collator(rows), [list(row["seq_lens"]) for row in rows]
        return
    rng_state = torch.get_rng_state()
    try:
        for index, batch in enumerate(trainer.get_train_dataloader()):
            if index >= num_batches:
                break
            yield batch, [segments_from_positions(row) for row in batch["position_ids"]]
    finally:
        torch.set_rng_state(rng_state)


class PackBenchCallback(TrainerCallback):
    """Probes leakage when training begins and records the run when it ends."""

    def __init__(self, *, cfg, trainer, recorder: RunMetrics) -> None:
        self.cfg = cfg
        self.trainer = trainer
        self.recorder = recorder

    def on_train_begin(self, args, state, control, model=None, **kwargs: Any):
        if not self.cfg.packbench_probe_leakage:
            return
        attention = "isolated" if self.cfg.packbench_strategy == "native" else self.cfg.packbench_attention
        report = measure_leakage(
            model if model is not None else self.trainer.model,
            probe_batches(self.trainer, num_batches=self.cfg.packbench_probe_batches),
            attention=attention,
            tolerance=self.cfg.packbench_leakage_tolerance,
        )
        self.recorder.update(leakage=report.to_dict())
        _log_leakage(report, attention)
        if report.passed is False and self.cfg.packbench_fail_on_leakage:
            raise LeakageError(
                f"isolated attention leaked across segments (max |Δlogit| {report.max_abs_diff:.3g} > "
                f"{report.tolerance:g}) on {report.attn_implementation}; fix the attention setup or "
                "set packbench_fail_on_leakage: false"
            )

    def on_train_end(self, args, state, control, **kwargs: Any):
        if state.is_world_process_zero:
            dataset = self.recorder.data["dataset"]
            self.recorder.update(training=training_summary(state, dataset["real_tokens"], dataset["samples"]))
            self.recorder.finish(status="ok")


def _log_leakage(report: LeakageReport, attention: str) -> None:
    message = (
        f"packbench leakage probe: max |Δlogit| {report.max_abs_diff:.3g} over {report.segments} segments "
        f"in {report.rows} rows ({attention} attention, {report.attn_implementation}, {report.dtype})"
    )
    if report.passed is False:
        LOG.error("%s -- ISOLATION IS BROKEN: segments see each other although attention is isolated", message)
    else:
        LOG.info(message)


def training_summary(state, real_tokens_per_epoch: int | None, samples_per_epoch: int | None) -> dict[str, Any]:
    """Steps, time, throughput and losses from the trainer's state."""
    history = state.log_history
    final = next((entry for entry in reversed(history) if "train_runtime" in entry), {})
    losses = [entry["loss"] for entry in history if "loss" in entry]
    eval_losses = [entry["eval_loss"] for entry in history if "eval_loss" in entry]
    runtime = final.get("train_runtime")
    epochs = float(state.epoch or 0.0)

    def per_second(per_epoch: int | None) -> float | None:
        if not per_epoch or not runtime:
            return None
        return round(per_epoch * epochs / runtime, 3)

    return {
        "steps": state.global_step,
        "epochs": round(epochs, 4),
        "runtime_s": runtime,
        "samples_per_s": per_second(samples_per_epoch),
        "real_tokens_per_s": per_second(real_tokens_per_epoch),
        "final_train_loss": losses[-1] if losses else None,
        "mean_train_loss": final.get("train_loss"),
        "eval_loss": eval_losses[-1] if eval_losses else None,
    }
