"""`packbench validate` on a generated 6,000-cell matrix, schema on, in a fresh process.

Run: `.venv/bin/python -m pytest benchmarks/test_validate_speed.py -p no:cacheprovider`.
The goal is at most 20 s on an idle 2-core machine, Axolotl's import included
(a check once per recipe shape instead of once per cell, which took 9 min).
The wall and CPU seconds, the cells and the recipe shapes land in extra_info;
the benchmark records, it does not fail on time (the machine may be loaded).
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("axolotl", reason="the schema check imports Axolotl")

SEEDS = 10
LEARNING_RATES = 30
STRATEGIES = ("padding", "random", "greedy", "bfd", "native")
CELLS = 2 * 2 * len(STRATEGIES) * SEEDS * LEARNING_RATES  # models x datasets x strategies x seeds x rates
GOAL_S = 20.0


def big_matrix() -> str:
    """2 models x 2 datasets x 5 strategies x 10 seeds x 30 learning rates = 6,000 cells."""
    dataset = (
        "{{name: synth-{name}, size: '{name}', datasets: [{{path: packbench://dataset/{name}, ds_type: json, "
        "type: chat_template, field_messages: messages, chat_template: tokenizer_default}}]}}"
    )
    rates = ", ".join(f"{(index + 1) * 1.0e-5:.6g}" for index in range(LEARNING_RATES))
    return "\n".join(
        [
            "name: big",
            "base:",
            "  sequence_len: 512",
            "  micro_batch_size: 4",
            "  num_epochs: 1",
            "  optimizer: adamw_torch",
            "  lr_scheduler: cosine",
            "  warmup_ratio: 0.1",
            "  bf16: false",
            "  fp16: false",
            "  attn_implementation: sdpa",
            "  tokenizer_config: packbench://tokenizer",
            "  chat_template: tokenizer_default",
            "axes:",
            "  model:",
            "    - {name: tiny-8b, path: packbench://model/tiny-8b, size: 8B}",
            "    - {name: tiny-70b, path: packbench://model/tiny-70b, size: 70B}",
            "  dataset:",
            f"    - {dataset.format(name='100')}",
            f"    - {dataset.format(name='470')}",
            f"  strategy: [{', '.join(STRATEGIES)}]",
            "  attention: [isolated]",
            f"  seed: [{', '.join(str(seed) for seed in range(SEEDS))}]",
            f"  learning_rate: [{rates}]",
            "",
        ]
    )


def test_validate_6000_cells(benchmark, tmp_path: Path):
    from axolotl_packing_bench.matrix.recipe import recipe_config
    from axolotl_packing_bench.matrix.schema import RUNNER_KEYS, VALUE_KEYS, _shape
    from axolotl_packing_bench.matrix.spec import expand, load_matrix

    path = tmp_path / "big.yaml"
    path.write_text(big_matrix())
    cells = expand(load_matrix(path))
    assert len(cells) == CELLS
    shapes = {_shape(recipe_config(cell, run_dir=f"runs/big/{cell.cell_id}"), cell.sources) for cell in cells}
    values = {(key, repr(cell.config[key])) for cell in cells for key in VALUE_KEYS if key in cell.config}
    command = [
        sys.executable,
        "-c",
        "from axolotl_packing_bench.cli import main; main()",
        "validate",
        "--matrix",
        str(path),
    ]

    def validate() -> tuple[float, float, subprocess.CompletedProcess]:
        began, cpu = time.perf_counter(), _children_cpu()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        return time.perf_counter() - began, _children_cpu() - cpu, done

    seconds, cpu_seconds, done = benchmark.pedantic(validate, rounds=1, iterations=1)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"OK, {CELLS} cells (checked against Axolotl's schema" in done.stdout
    benchmark.extra_info.update(
        {
            "cells": CELLS,
            "recipe_shapes": len(shapes),
            "distinct_values": len(values),
            "runner_keys": list(RUNNER_KEYS),
            "seconds": round(seconds, 2),
            "cpu_seconds": round(cpu_seconds, 2),
            "goal_s": GOAL_S,
            "progress_lines": done.stderr.count("validate: "),
        }
    )


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
