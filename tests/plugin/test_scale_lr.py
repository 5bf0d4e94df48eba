"""packbench_scale_lr: a packed row's learning rate follows the samples it holds."""

from __future__ import annotations

import pytest

from tests.plugin.conftest import axolotl_train, chat_dataset, recipe


@pytest.mark.slow
def test_learning_rate_is_scaled_by_samples_per_row_and_the_trainer_uses_it(tiny_model, tiny_dataset, tmp_path):
    cfg = recipe(
        tiny_model,
        chat_dataset(tiny_dataset),
        tmp_path,
        packbench_strategy="bfd",
        max_steps=2,
        learning_rate=1e-3,
        packbench_scale_lr=True,
    )
    proc, metrics = axolotl_train(cfg, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    packing, rate = metrics["packing"], metrics["learning_rate"]
    expected = packing["samples"] / packing["rows"]
    assert expected > 1.5 and rate["scale"] == pytest.approx(expected, rel=1e-5)
    assert rate["configured"] == 1e-3 and rate["used"] == pytest.approx(1e-3 * expected, rel=1e-5)


def test_native_refuses_the_key():
    from axolotl_packing_bench.plugin.args import PLUGIN_PATH, PackingBenchArgs

    with pytest.raises(ValueError, match="ignores packbench_scale_lr"):
        PackingBenchArgs.model_validate(
            {"plugins": [PLUGIN_PATH], "packbench_strategy": "native", "packbench_scale_lr": True}
        )
