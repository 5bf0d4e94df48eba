"""Real Axolotl training with the output layer on trained positions only: used, and the same losses as without."""

from __future__ import annotations

import pytest

from tests.plugin.conftest import axolotl_train, chat_dataset, recipe

pytestmark = pytest.mark.slow

LOSS_RTOL = 1e-5
"""Two optimizer steps apart from float rounding: the second step's loss follows the first step's gradients."""


@pytest.mark.parametrize("strategy", ["bfd", "native"])
def test_training_loss_equals_the_full_logits_run(tiny_model, tiny_dataset, tmp_path, strategy):
    runs = {}
    for enabled in (True, False):
        workdir = tmp_path / ("trained" if enabled else "full")
        cfg = recipe(
            tiny_model,
            chat_dataset(tiny_dataset),
            workdir,
            packbench_strategy=strategy,
            packbench_trained_logits_only=enabled,
            max_steps=2,
        )
        proc, metrics = axolotl_train(cfg, workdir)
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs[enabled] = metrics
    used, full = runs[True], runs[False]
    figures = used["trained_logits"]
    assert figures["enabled"] is True and 0 < figures["scored_positions"] < figures["positions"]
    assert full["trained_logits"] == {"enabled": False, "reason": "packbench_trained_logits_only: false"}
    for key in ("final_train_loss", "mean_train_loss"):
        assert used["training"][key] == pytest.approx(full["training"][key], rel=LOSS_RTOL), key
    # the leakage probe reads every position's logits, as before: the same report, to float rounding
    leak = {
        run: {k: v for k, v in m["leakage"].items() if k not in ("max_abs_diff", "seconds")} for run, m in runs.items()
    }
    assert leak[True] == leak[False] and leak[True]["segments"] > 0
    assert used["leakage"]["max_abs_diff"] == pytest.approx(full["leakage"]["max_abs_diff"], abs=1e-6)
