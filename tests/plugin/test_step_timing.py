"""Steady-state step timing: the warm-up rule, the median, and the callback on a fake trainer state."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

pytest.importorskip("transformers")

from axolotl_packing_bench.plugin.callbacks import StepTimer, steady_state, timing_summary, warmup_steps  # noqa: E402


@pytest.mark.parametrize(
    ("steps", "warmup"), [(0, 0), (1, 0), (2, 1), (4, 2), (6, 3), (10, 3), (30, 3), (31, 4), (100, 10), (1000, 100)]
)
def test_warmup_is_ten_percent_at_least_three_at_most_half(steps, warmup):
    assert warmup_steps(steps) == warmup


def test_median_after_warmup_ignores_slow_first_steps():
    times = [5.0, 3.0, 2.0] + [1.0, 1.2, 0.8, 1.1, 0.9, 1.0, 1.0]  # 10 steps: 3 warm-up
    summary = steady_state(times, real_tokens_per_step=2000)
    assert summary["warmup_steps"] == 3
    assert summary["median_step_s"] == 1.0
    assert summary["step_iqr_s"] == pytest.approx(1.05 - 0.95)
    assert summary["steady_real_tokens_per_s"] == 2000.0


def test_no_steps_no_figures():
    assert steady_state([]) == {
        "warmup_steps": 0,
        "median_step_s": None,
        "step_iqr_s": None,
        "steady_real_tokens_per_s": None,
    }


class FakeClock:
    def __init__(self, ticks):
        self.ticks = list(ticks)

    def __call__(self):
        return self.ticks.pop(0)


def test_the_timer_measures_end_to_end_steps_and_cpu():
    # step 1: begin 10.0 -> end 12.0 (2 s); step 2: end 12.5 (0.5 s, its begin does not reset); step 3: end 13.5
    timer = StepTimer(clock=FakeClock([10.0, 12.0, 12.5, 13.5]), cpu_clock=FakeClock([100.0, 103.0]))
    timer.step_begin(), timer.step_end(), timer.step_begin(), timer.step_end(), timer.step_begin(), timer.step_end()
    timer.train_end()
    assert timer.step_times == pytest.approx([2.0, 0.5, 1.0])
    assert timer.cpu_s == 3.0
    state = SimpleNamespace(global_step=3, epoch=1.0)
    summary = timing_summary(timer, state, real_tokens_per_epoch=3000)
    assert summary["step_times_s"] == [2.0, 0.5, 1.0] and summary["timed_steps"] == 3
    assert summary["warmup_steps"] == 1 and summary["median_step_s"] == 0.75
    assert summary["steady_real_tokens_per_s"] == pytest.approx(1000 / 0.75, rel=1e-3)


def test_the_callback_records_steps_into_the_training_section(tmp_path):
    from axolotl_packing_bench.plugin.callbacks import PackBenchCallback
    from axolotl_packing_bench.plugin.metrics import RunMetrics

    recorder = RunMetrics(
        path=tmp_path / "m.json", strategy="bfd", attention="isolated", eval_strategy="bfd", capacity=64
    )
    recorder.update(dataset={"paths": [], "samples": 8, "real_tokens": 400})
    callback = PackBenchCallback(cfg=SimpleNamespace(packbench_probe_leakage=False), trainer=None, recorder=recorder)
    callback.timer = StepTimer(clock=FakeClock([0.0, 1.0, 1.5, 2.0, 2.5]), cpu_clock=FakeClock([0.0, 1.0]))
    state = SimpleNamespace(
        global_step=4,
        epoch=1.0,
        log_history=[{"loss": 1.0}, {"train_runtime": 2.5, "train_loss": 1.0}],
        is_world_process_zero=True,
    )
    callback.on_train_begin(None, state, None)
    for _ in range(4):
        callback.on_step_begin(None, state, None)
        callback.on_step_end(None, state, None)
    callback.on_train_end(None, state, None)
    training = recorder.data["training"]
    assert training["step_times_s"] == [1.0, 0.5, 0.5, 0.5] and training["warmup_steps"] == 2
    assert training["median_step_s"] == 0.5 and training["steady_real_tokens_per_s"] == 200.0
    assert training["runtime_s"] == 2.5 and training["cpu_s"] == 1.0
    assert training["train_losses"] == [1.0] and training["final_train_loss"] == 1.0
    assert (tmp_path / "m.json").exists()


def test_only_the_first_process_probes_leakage(tmp_path):
    """Every rank holds the same model: rank 0 probes it and records; the others go straight to training."""
    from axolotl_packing_bench.plugin.callbacks import PackBenchCallback
    from axolotl_packing_bench.plugin.metrics import RunMetrics

    recorder = RunMetrics(
        path=tmp_path / "m.json", strategy="bfd", attention="isolated", eval_strategy="bfd", capacity=64
    )
    cfg = SimpleNamespace(packbench_probe_leakage=True, packbench_attention="isolated", packbench_probe_batches=1)
    callback = PackBenchCallback(cfg=cfg, trainer=None, recorder=recorder)  # no trainer: a probe would fail
    callback.on_train_begin(None, SimpleNamespace(is_world_process_zero=False), None)
    assert recorder.data["leakage"] is None
    with pytest.raises(AttributeError):  # rank 0 does probe (here on the missing trainer)
        callback.on_train_begin(None, SimpleNamespace(is_world_process_zero=True), None)


def test_the_slowdown_hook_makes_each_step_really_longer(monkeypatch):
    """PACKBENCH_TEST_SLOWDOWN=1.5 sleeps half of the step's own time at its end (benchmarks/gate_power.py)."""
    from axolotl_packing_bench.plugin.callbacks import SLOWDOWN_ENV, StepTimer, slow_down_step, slowdown_factor

    for value, factor in (("1.5", 1.5), ("1", None), ("0.5", None), ("fast", None), ("nan", None), ("", None)):
        monkeypatch.setenv(SLOWDOWN_ENV, value)
        assert slowdown_factor() == factor
    now = [10.0]
    timer = StepTimer(clock=lambda: now[0], cpu_clock=lambda: 0.0)
    slept: list[float] = []
    timer.step_begin()
    now[0] = 12.0
    slow_down_step(timer, 1.5, sleep=slept.append)
    assert slept == [1.0]
