"""One environment module: the plugin's metrics and the runner describe a machine the same way."""

from __future__ import annotations

import sys
from pathlib import Path

from axolotl_packing_bench.core.environment import collect_hardware, collect_versions


def test_versions_list_the_training_stack():
    versions = collect_versions()
    assert set(versions) == {"axolotl_packing_bench", "axolotl", "torch", "transformers", "trl", "accelerate", "python"}
    assert versions["python"] == ".".join(map(str, sys.version_info[:3]))


def test_plugin_metrics_and_runner_share_the_module(tmp_path: Path):
    from axolotl_packing_bench.plugin.metrics import RunMetrics
    from axolotl_packing_bench.running import runner

    metrics = RunMetrics(
        path=tmp_path / "m.json", strategy="bfd", attention="isolated", eval_strategy="bfd", capacity=8
    )
    assert metrics.data["versions"] == collect_versions() == runner.collect_versions()
    metrics.finish(status="ok")
    assert (
        set(metrics.data["hardware"])
        == set(collect_hardware())
        == {"cpu", "cpu_count", "memory_gb", "gpu", "gpu_count"}
    )
