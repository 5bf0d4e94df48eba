"""A strategy registered by another installed package (`packbench.strategies` entry point) is seen everywhere.

The test package is installed the way importlib.metadata finds any package:
a `<name>.dist-info` folder with METADATA and entry_points.txt on the path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
STRATEGY = "next_fit_ext"

PACKAGE = '''\
import numpy as np

from axolotl_packing_bench.packing import Assignment


def next_fit(lengths, capacity):
    """Fill a row with samples in order; open the next row when the next sample does not fit."""
    offsets, used = [0], 0
    for index, length in enumerate(lengths.tolist()):
        if index and used + length > capacity:
            offsets.append(index)
            used = 0
        used += length
    offsets.append(len(lengths))
    return Assignment(np.asarray(offsets, dtype=np.int64), np.arange(len(lengths), dtype=np.int64))
'''


@pytest.fixture
def installed(tmp_path) -> dict[str, str]:
    """A tiny installed package declaring one strategy; the environment of a process that sees it."""
    site = tmp_path / "site"
    (site / "nextfit_pkg").mkdir(parents=True)
    (site / "nextfit_pkg" / "__init__.py").write_text(PACKAGE)
    info = site / "nextfit_pkg-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: nextfit-pkg\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[packbench.strategies]\n{STRATEGY} = nextfit_pkg:next_fit\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}


def packbench(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "axolotl_packing_bench.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_stats_packs_with_it(installed):
    proc = packbench(installed, "stats", "--capacity", "512", "--strategies", f"padding,{STRATEGY}", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    rows = {row["strategy"]: row for row in json.loads(proc.stdout)["strategies"]}
    assert set(rows) == {"padding", STRATEGY}
    assert rows[STRATEGY]["num_bins"] < rows["padding"]["num_bins"]


def test_validate_accepts_it_in_a_matrix_and_the_plugin_config_accepts_it(installed, tmp_path):
    from tests.support.helpers import HAND_MATRIX

    matrix = tmp_path / "m.yaml"
    matrix.write_text(HAND_MATRIX.replace("strategy: [padding, greedy]", f"strategy: [padding, {STRATEGY}]"))
    proc = packbench(installed, "validate", "--matrix", str(matrix), "--no-schema", "--no-data")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK, 6 cells" in proc.stdout
    check = textwrap.dedent(f"""
        from axolotl_packing_bench.plugin.args import PackingBenchArgs
        print(PackingBenchArgs(packbench_strategy={STRATEGY!r}, sequence_len=256).packbench_strategy)
    """)
    proc = subprocess.run([sys.executable, "-c", check], env=installed, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == STRATEGY, proc.stderr


def test_without_the_package_the_name_is_refused_with_the_valid_ones(tmp_path):
    from tests.support.helpers import HAND_MATRIX

    matrix = tmp_path / "m.yaml"
    matrix.write_text(HAND_MATRIX.replace("strategy: [padding, greedy]", f"strategy: [padding, {STRATEGY}]"))
    proc = packbench(
        {**os.environ, "PYTHONPATH": str(REPO)}, "validate", "--matrix", str(matrix), "--no-schema", "--no-data"
    )
    assert proc.returncode == 2 and f"unknown strategy '{STRATEGY}'" in proc.stdout + proc.stderr


def test_a_broken_entry_point_is_one_sentence(installed, tmp_path):
    info = next((tmp_path / "site").glob("*.dist-info"))
    (info / "entry_points.txt").write_text("[packbench.strategies]\nbroken = nextfit_pkg_missing:fit\n")
    proc = packbench(installed, "stats", "--capacity", "512")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "packing strategy 'broken' (nextfit_pkg_missing:fit" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_axolotl_train_packs_with_it(installed, tmp_path, monkeypatch, tiny_model):
    from axolotl_packing_bench.assets import ensure_dataset
    from tests.plugin.conftest import axolotl_train, chat_dataset, recipe

    monkeypatch.setenv("PYTHONPATH", installed["PYTHONPATH"])
    dataset = chat_dataset(str(ensure_dataset(120, seed=1, overlong_fraction=0.05)))
    cfg = recipe(tiny_model, dataset, tmp_path, packbench_strategy=STRATEGY, max_steps=2)
    proc, metrics = axolotl_train(cfg, tmp_path / "run")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert metrics is not None and metrics["strategy"] == STRATEGY and metrics["training"]["steps"] == 2
