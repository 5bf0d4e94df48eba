"""Two training processes on the CPU (torchrun, gloo) against one process with doubled gradient accumulation.

Step k of the one-process run trains micro batches 2k and 2k+1 of the sampler's order (one row each);
with two processes accelerate hands batch 2k to rank 0 and 2k+1 to rank 1, and DDP sums their gradients.
So the two runs train the same rows in the same steps, and the same loss: `sample` divides by the samples
of the whole step, counted over both ranks (`average_tokens_across_devices`, which the plugin turns on;
off, each rank divides by its own count and the losses differ); `token` is each micro batch's token mean
averaged over the step's micro batches, on one process as on two (Axolotl 0.19 passes Llama no count).
The only difference left is where the micro batches' gradients are added (gloo's all-reduce, halved by
DDP, against local accumulation); on this CPU the per-step losses and the held-out loss came out bit for
bit equal in both loss modes, and `LOSS_RTOL` leaves room for another reduction order.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import yaml

from axolotl_packing_bench.plugin.row_log import FILE_PATTERN
from axolotl_packing_bench.running.runner import DEFAULT_TRAIN_COMMAND, launch_env, train_command
from tests.plugin.conftest import axolotl_train, chat_dataset, recipe

SAMPLES = 48
"""Chats in the training set: 24 rows of 256 tokens under bfd (an even count: no row is trained twice)."""

LOSS_RTOL = 1e-5
"""Per-step training loss, two ranks against one: relative tolerance (fp32 on the CPU)."""


@pytest.fixture(scope="module")
def small_dataset() -> str:
    from axolotl_packing_bench.assets import ensure_dataset

    return str(ensure_dataset(SAMPLES, seed=1, overlong_fraction=0.05))


@pytest.fixture(scope="module")
def heldout_chats() -> str:
    from axolotl_packing_bench.assets import ensure_heldout_chats

    return str(ensure_heldout_chats())


def rows_trained(output_dir: Path, rank: int) -> list[str]:
    """Row digests in the order rank `rank` trained them (`packbench_record_rows`)."""
    path = output_dir / FILE_PATTERN.format(rank=rank)
    return [row for line in path.read_text().splitlines() for row in json.loads(line)["rows"]]


def torchrun_train(cfg: dict, workdir: Path, processes: int) -> tuple[subprocess.CompletedProcess, dict | None]:
    """`axolotl train recipe.yml --launcher torchrun -- --standalone --nproc_per_node N`, as `packbench run` runs
    a cell of `num_processes: N`."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "recipe.yml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    env = {**launch_env(os.environ, processes), "PYTHONUNBUFFERED": "1"}  # torchrun on PATH, threads shared out
    argv = train_command(DEFAULT_TRAIN_COMMAND, path, "torchrun", processes)
    proc = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True, timeout=900)
    metrics_path = Path(cfg["output_dir"]) / "packbench_metrics.json"
    return proc, json.loads(metrics_path.read_text()) if metrics_path.exists() else None


def _cuda_build_without_gpu() -> bool:
    """A CUDA build of torch on a machine without a GPU (CI's Python 3.12 environment with Axolotl 0.21)."""
    from importlib.metadata import version

    import torch

    return "+cpu" not in version("torch") and not torch.cuda.is_available()


@pytest.mark.slow
@pytest.mark.skipif(
    _cuda_build_without_gpu(),
    reason="with Axolotl 0.21 and a CUDA build of torch on a machine without a GPU, a torchrun rank asks for CUDA "
    "(Found no NVIDIA driver); the CPU ranks are checked with a CPU build of torch",
)
@pytest.mark.parametrize("loss", ["token", "sample"])
def test_two_processes_train_every_row_once_in_the_steps_and_losses_of_one_with_doubled_accumulation(
    loss, tiny_model, small_dataset, heldout_chats, tmp_path
):
    settings = {
        "packbench_strategy": "bfd",
        "packbench_loss": loss,
        "packbench_record_rows": True,
        "packbench_heldout": heldout_chats,
        "packbench_heldout_max_samples": 16,
        "micro_batch_size": 1,
    }
    data = chat_dataset(small_dataset)
    one = recipe(tiny_model, data, tmp_path / "one", gradient_accumulation_steps=2, **settings)
    two = recipe(tiny_model, data, tmp_path / "two", gradient_accumulation_steps=1, **settings)
    proc, single = axolotl_train(one, tmp_path / "one")
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc, double = torchrun_train(two, tmp_path / "two", processes=2)
    assert proc.returncode == 0, proc.stderr[-3000:]

    rows = single["packing"]["rows"]
    assert rows % 2 == 0 and double["packing"]["rows"] == rows  # even: every step holds two distinct rows
    order = rows_trained(Path(one["output_dir"]), 0)
    assert len(order) == rows and set(Counter(order).values()) == {1}  # one process: each row once
    rank0, rank1 = rows_trained(Path(two["output_dir"]), 0), rows_trained(Path(two["output_dir"]), 1)
    assert len(rank0) == len(rank1) == rows // 2
    assert Counter(rank0 + rank1) == Counter(order)  # each row once across the ranks: none on both, none skipped
    # the same rows in the same step: rank 0 the first micro batch of the one-process step, rank 1 the second
    assert rank0 == order[0::2] and rank1 == order[1::2]

    assert single["processes"] == 1 and double["processes"] == 2
    assert double["training"]["steps"] == single["training"]["steps"] == rows // 2
    losses_one, losses_two = single["training"]["train_losses"], double["training"]["train_losses"]
    assert len(losses_one) == len(losses_two) == rows // 2
    assert losses_two == pytest.approx(losses_one, rel=LOSS_RTOL)
    assert losses_one[-1] < losses_one[0]  # it trains: not two flat series agreeing by accident

    # measured once, by rank 0: the probe and the held-out loss log once, while both ranks log their packing
    output = proc.stdout + proc.stderr
    assert output.count("packbench: bfd packed") == 2
    assert output.count("packbench leakage probe") == 1 and output.count("packbench: held-out loss") == 1
    assert double["status"] == "ok" and double["leakage"]["passed"] is True
    assert double["heldout"]["samples"] == 16
    assert double["heldout"]["loss"] == pytest.approx(single["heldout"]["loss"], rel=LOSS_RTOL)
