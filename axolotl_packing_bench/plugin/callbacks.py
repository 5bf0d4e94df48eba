"""Trainer callbacks: the leakage probe before training, step timing during it, the run metrics after.

Steady-state timing: the wall time of every optimizer step is recorded
(step i = from the end of step i-1 to the end of step i, so data loading,
collation and logging between steps count; step 1 from its own begin). The
first `warmup_steps(n)` steps are left out (10% of the steps, at least 3,
never more than half): they pay for lazy initialisation, allocator growth
and compilation. The median of the rest is the steady-state step time, and
real tokens per step over it the steady-state throughput.
"""

from __future__ import annotations

import logging
import math
import os
import statistics
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from transformers import TrainerCallback

from axolotl_packing_bench.plugin.batch_tokens import BatchTokens
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


WARMUP_FRACTION = 0.10
WARMUP_MIN_STEPS = 3


def warmup_steps(steps: int) -> int:
    """Steps left out of the steady state: 10% of them, at least 3, never more than half."""
    return min(max(WARMUP_MIN_STEPS, math.ceil(WARMUP_FRACTION * steps)), steps // 2)


def steady_state(step_times: Sequence[float], *, real_tokens_per_step: float | None = None) -> dict[str, Any]:
    """Median step time after the warm-up, its spread, and the throughput it gives.

    Returns `warmup_steps`, `median_step_s`, `step_iqr_s` (interquartile
    range of the kept steps) and `steady_real_tokens_per_s` (None without
    steps or tokens).
    """
    warmup = warmup_steps(len(step_times))
    kept = sorted(float(value) for value in step_times[warmup:])
    if not kept:
        return {"warmup_steps": warmup, "median_step_s": None, "step_iqr_s": None, "steady_real_tokens_per_s": None}
    median = statistics.median(kept)
    quartiles = statistics.quantiles(kept, n=4, method="inclusive") if len(kept) > 1 else [median] * 3
    iqr = quartiles[2] - quartiles[0]
    tokens = round(real_tokens_per_step / median, 3) if real_tokens_per_step and median > 0 else None
    return {
        "warmup_steps": warmup,
        "median_step_s": round(median, 5),
        "step_iqr_s": round(iqr, 5),
        "steady_real_tokens_per_s": tokens,
    }


class StepTimer:
    """Wall time of each optimizer step, and the process CPU time from the first step to the end."""

    def __init__(self, clock=time.perf_counter, cpu_clock=time.process_time) -> None:
        self.clock, self.cpu_clock = clock, cpu_clock
        self.step_times: list[float] = []
        self._began: float | None = None
        self._last_end: float | None = None
        self._cpu_start: float | None = None
        self.cpu_s: float | None = None

    def step_begin(self) -> None:
        if self._last_end is None:  # the first step: CPU time counts from here (after the leakage probe)
            self._began = self.clock()
            self._cpu_start = self.cpu_clock()

    def step_end(self) -> None:
        now = self.clock()
        start = self._last_end if self._last_end is not None else self._began
        if start is not None:
            self.step_times.append(now - start)
        self._last_end = now

    def train_end(self) -> None:
        if self._cpu_start is not None:
            self.cpu_s = round(self.cpu_clock() - self._cpu_start, 2)


SLOWDOWN_ENV = "PACKBENCH_TEST_SLOWDOWN"


def slowdown_factor() -> float | None:
    """The factor of the test hook `PACKBENCH_TEST_SLOWDOWN` (e.g. 1.2: every step 20% longer), or None.

    For measuring the regression gate on a real slowdown (benchmarks/gate_power.py); a run made with it
    records `test_slowdown` in its metrics. Anything but a number above 1 is ignored.
    """
    try:
        factor = float(os.environ.get(SLOWDOWN_ENV, ""))
    except ValueError:
        return None
    return factor if math.isfinite(factor) and factor > 1 else None


def slow_down_step(timer: StepTimer, factor: float, sleep=time.sleep) -> None:
    """Sleep (factor - 1) x the time this step has taken so far: the step really lasts factor x as long."""
    start = timer._last_end if timer._last_end is not None else timer._began
    if start is not None:
        sleep(max(0.0, (factor - 1) * (timer.clock() - start)))


def timing_summary(timer: StepTimer, state, real_tokens_per_epoch: int | None) -> dict[str, Any]:
    """The steady-state fields of the training section (see the module docstring)."""
    steps = len(timer.step_times)
    per_step = None
    if real_tokens_per_epoch and state.global_step:
        per_step = real_tokens_per_epoch * float(state.epoch or 0.0) / state.global_step
    return {
        "step_times_s": [round(value, 4) for value in timer.step_times],
        "timed_steps": steps,
        **steady_state(timer.step_times, real_tokens_per_step=per_step),
        "cpu_s": timer.cpu_s,
    }


class PackBenchCallback(TrainerCallback):
    """Probes leakage when training begins, times each step, and records the run when it ends."""

    def __init__(self, *, cfg, trainer, recorder: RunMetrics, batch_tokens: BatchTokens | None = None) -> None:
        self.cfg = cfg
        self.trainer = trainer
        self.recorder = recorder
        self.batch_tokens = batch_tokens
        self.timer = StepTimer()
        self.slowdown = slowdown_factor()

    def on_step_begin(self, args, state, control, **kwargs: Any):
        self.timer.step_begin()

    def on_step_end(self, args, state, control, **kwargs: Any):
        if self.slowdown:
            slow_down_step(self.timer, self.slowdown)
        self.timer.step_end()

    def on_train_begin(self, args, state, control, model=None, **kwargs: Any):
        if self.slowdown:
            self.recorder.update(test_slowdown=self.slowdown)
        if getattr(self.cfg, "packbench_equivalence_check", False) and state.is_world_process_zero:
            from axolotl_packing_bench.plugin.equivalence import run_check

            report = run_check(self.cfg, self.trainer, model if model is not None else self.trainer.model)
            self.recorder.update(equivalence=report)
            LOG.info("packbench equivalence check: %s", report)
        if not self.cfg.packbench_probe_leakage or not state.is_world_process_zero:
            return  # several processes: every rank holds the same model; the first one probes it and records
        attention = self.cfg.packbench_attention  # native: always NATIVE_ATTENTION (the args check refuses others)
        began = time.perf_counter()
        report = measure_leakage(
            model if model is not None else self.trainer.model,
            probe_batches(self.trainer, num_batches=self.cfg.packbench_probe_batches),
            attention=attention,
            tolerance=self.cfg.packbench_leakage_tolerance,
        )
        # The probe runs inside the trainer's runtime (not its steps): its seconds let a timing leave it out.
        self.recorder.update(leakage={**report.to_dict(), "seconds": round(time.perf_counter() - began, 3)})
        _log_leakage(report, attention)
        if report.passed is False and self.cfg.packbench_fail_on_leakage:
            raise LeakageError(
                f"isolated attention leaked across segments (max |Δlogit| {report.max_abs_diff:.3g} > "
                f"{report.tolerance:g}) on {report.attn_implementation}; fix the attention setup or "
                "set packbench_fail_on_leakage: false"
            )

    def on_train_end(self, args, state, control, **kwargs: Any):
        self.timer.train_end()
        if state.is_world_process_zero:
            dataset = self.recorder.data["dataset"]
            training = training_summary(state, dataset["real_tokens"], dataset["samples"])
            training.update(timing_summary(self.timer, state, dataset["real_tokens"]))
            self.recorder.update(training=training)
            if self.batch_tokens is not None and (counted := self.batch_tokens.summary()):
                self.recorder.update(packing={**(self.recorder.data.get("packing") or {}), **counted})
                _log_batch_tokens(counted)
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
        "train_losses": losses,  # one per logging step, the mean over every process's rows
        "final_train_loss": losses[-1] if losses else None,
        "mean_train_loss": final.get("train_loss"),
        "eval_loss": eval_losses[-1] if eval_losses else None,
    }


def _log_batch_tokens(counted: dict[str, Any]) -> None:
    batches = counted["trainer_batches"]
    efficiency = counted["trainer_efficiency"]
    LOG.info(
        "packbench: the trainer's micro batches held %d real tokens in %d token slots (%s) over %d micro batches",
        batches["real_tokens"],
        batches["token_slots"],
        f"{100 * efficiency:.2f}% efficiency" if efficiency is not None else f"{batches['uncounted']} not counted",
        batches["micro_batches"],
    )
