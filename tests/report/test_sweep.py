"""The size sweep: the matrix expands as documented; `packbench plot` plots the right numbers.

Regenerate the golden table after an intended change with
`PACKBENCH_UPDATE_GOLDEN=1 pytest tests/report/test_sweep.py`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from axolotl_packing_bench.matrix.spec import expand, load_matrix
from axolotl_packing_bench.results.store import read_results
from axolotl_packing_bench.report.sweep import sweep_series
from axolotl_packing_bench.cli import main
from tests.support.helpers import GOLDEN

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = GOLDEN / "sweep-results.jsonl"
SERIES = GOLDEN / "sweep-series.md"


@pytest.mark.parametrize("name", ["paper-toy", "paper-toy-lr"])
def test_paper_toy_expands_to_models_x_sizes_x_strategies_x_seeds(name: str):
    matrix = load_matrix(ROOT / "recipes" / "matrices" / f"{name}.yaml")
    cells = expand(matrix)
    assert len(cells) == 2 * 4 * 4 * 3
    sizes = sorted({int(cell.labels["dataset_size"]) for cell in cells})
    assert sizes == [30, 141, 283, 520]
    # the paper's 69K : 326K : 652K : 1.2M, within 2%
    for size, paper in zip(sizes, (69, 326, 652, 1200), strict=True):
        assert size / sizes[0] == pytest.approx(paper / 69, rel=0.02)
    assert {cell.axes["strategy"] for cell in cells} == {"padding", "random", "greedy", "bfd"}
    assert all(cell.config["packbench_heldout"] == "packbench://heldout-chats" for cell in cells)
    assert all(cell.config.get("packbench_scale_lr", False) is (name == "paper-toy-lr") for cell in cells)


def test_series_paired_by_seed():
    points = sweep_series(read_results(FIXTURE))
    assert [p.model for p in points] == ["tiny-8b"] * 4 + ["tiny-70b"] * 4  # the smaller model first
    bfd_large = next(p for p in points if (p.model, p.strategy, p.dataset) == ("tiny-8b", "bfd", "synth-1.2m-toy"))
    # bfd - padding per seed: -0.010, -0.002, +0.006: the interval includes zero
    assert bfd_large.quality.mean == pytest.approx(-0.002, abs=1e-9) and not bfd_large.quality.significant
    bfd_small = next(p for p in points if (p.model, p.strategy, p.dataset) == ("tiny-8b", "bfd", "synth-69k-toy"))
    # +0.050, +0.058, +0.066: worse than padding beyond seed noise
    assert bfd_small.quality.mean == pytest.approx(0.058, abs=1e-9) and bfd_small.quality.significant
    assert bfd_large.time_ratio.mean == pytest.approx(0.47, abs=1e-3)
    assert bfd_large.dataset_size == 520


def test_plot_writes_one_png_per_model_and_the_plotted_numbers(tmp_path: Path):
    pytest.importorskip("matplotlib")
    result = CliRunner().invoke(main, ["plot", "--results", str(FIXTURE), "--out", str(tmp_path), "--name", "toy"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy-series.md", "toy-tiny-70b.png", "toy-tiny-8b.png"]
    assert (tmp_path / "toy-tiny-8b.png").read_bytes()[:4] == b"\x89PNG"
    table = (tmp_path / "toy-series.md").read_text()
    if os.environ.get("PACKBENCH_UPDATE_GOLDEN"):
        SERIES.write_text(table)
    assert table == SERIES.read_text()


def test_a_results_file_without_the_needed_columns_is_one_sentence(tmp_path: Path):
    rows = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    for row in rows:
        row["metrics"].pop("heldout")
    lacking = tmp_path / "no-heldout.jsonl"
    lacking.write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = CliRunner().invoke(main, ["plot", "--results", str(lacking), "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert "has no held-out loss (metrics.heldout.loss); train with packbench_heldout set" in result.output
    assert "Traceback" not in result.output
    result = CliRunner().invoke(main, ["plot", "--results", str(tmp_path / "missing.jsonl")])
    assert result.exit_code != 0 and "does not exist" in result.output
