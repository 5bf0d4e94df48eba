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

from axolotl_packing_bench.cli import main
from axolotl_packing_bench.matrix.spec import expand, load_matrix
from axolotl_packing_bench.report.sweep import sweep_series
from axolotl_packing_bench.results.store import read_results
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


def _with_shared_bfd(tmp_path: Path) -> Path:
    """The fixture plus a shared-attention twin of every bfd row, 0.25 nats worse: paper-toy-shared's layout."""
    rows = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    for row in [row for row in rows if row["axes"]["strategy"] == "bfd"]:
        twin = json.loads(json.dumps(row))
        twin["axes"]["attention"] = "shared"
        twin["cell_id"], twin["run_id"] = row["cell_id"] + "-shared", row["run_id"] + "-shared"
        twin["metrics"]["heldout"]["loss"] += 0.25
        rows.append(twin)
    both = tmp_path / "both.jsonl"
    both.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return both


def test_shared_attention_is_its_own_series_paired_with_the_isolated_padding(tmp_path: Path):
    """paper-toy-shared's results: bfd with shared attention beside bfd isolated, one padding for both."""
    points = {(p.model, p.strategy, p.dataset): p for p in sweep_series(read_results(_with_shared_bfd(tmp_path)))}
    isolated = points[("tiny-8b", "bfd", "synth-1.2m-toy")]
    shared = points[("tiny-8b", "bfd (shared)", "synth-1.2m-toy")]
    assert isolated.quality.mean == pytest.approx(-0.002, abs=1e-9)  # as without the shared rows
    assert shared.quality.mean == pytest.approx(-0.002 + 0.25, abs=1e-9)
    assert shared.time_ratio.mean == pytest.approx(isolated.time_ratio.mean)
    assert len(points) == len(sweep_series(read_results(FIXTURE))) + 4  # bfd (shared): each of bfd's 4 points
    assert not any(strategy.startswith("padding") for _, strategy, _ in points)


def test_plot_writes_one_png_for_every_model_and_the_plotted_numbers(tmp_path: Path):
    pytest.importorskip("matplotlib")
    result = CliRunner().invoke(
        main, ["plot", "--results", str(FIXTURE), "--out", str(tmp_path), "--name", "toy"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy-series.md", "toy.png"]
    assert (tmp_path / "toy.png").read_bytes()[:4] == b"\x89PNG"
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


def _axes_of(monkeypatch) -> list:
    """Patch `savefig` to keep the figure's axes for inspection."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    seen: list = []
    original = Figure.savefig

    def keep(self, *args, **kwargs):
        seen.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    return seen


def test_models_share_y_axes_overlaps_are_named_and_loaded_times_captioned(tmp_path: Path, monkeypatch):
    pytest.importorskip("matplotlib")
    from axolotl_packing_bench.report.sweep import coinciding, plot_sweep

    points = sweep_series(read_results(FIXTURE))
    figures = _axes_of(monkeypatch)
    (path,) = plot_sweep(points, tmp_path, name="toy", caption="Times measured on a loaded machine (3 of 36 runs).")
    assert path == tmp_path / "toy.png"
    (figure,) = figures
    grid = figure.axes
    assert len(grid) == 4 and "tiny-8b · 0.6M params, stands for 8B" in grid[0].get_title()
    assert grid[0].get_shared_y_axes().joined(grid[0], grid[1])  # the two models on one scale
    assert all(len(ax.get_lines()) > 0 for ax in grid)  # no empty panel
    assert any("loaded machine" in text.get_text() for text in figure.texts)
    assert coinciding([p for p in points if p.model == "tiny-8b"], "quality", 10.0)  # everything coincides within 10


def test_a_matrix_without_a_seed_axis_gives_no_empty_panel_and_no_warning(tmp_path: Path, monkeypatch):
    pytest.importorskip("matplotlib")
    import warnings

    from axolotl_packing_bench.report.sweep import plot_sweep

    rows = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    rows = [row for row in rows if row["axes"].get("seed") == "0"]
    for row in rows:
        row["axes"].pop("seed")
        row["cell_id"] = row["cell_id"].replace("__seed=0", "")
    unseeded = tmp_path / "unseeded.jsonl"
    unseeded.write_text("".join(json.dumps(row) + "\n" for row in rows))
    points = sweep_series(read_results(unseeded))
    assert points and all(p.time_ratio is not None and p.quality is not None for p in points)
    figures = _axes_of(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_sweep(points, tmp_path, name="unseeded")
    assert all(len(ax.get_lines()) > 0 for ax in figures[0].axes)


def test_the_shared_series_is_drawn_in_its_strategys_colour_dashed_under_one_legend(tmp_path: Path, monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.colors import to_hex

    from axolotl_packing_bench.report.sweep import plot_sweep

    points = sweep_series(read_results(_with_shared_bfd(tmp_path)))
    figures = _axes_of(monkeypatch)
    plot_sweep(points, tmp_path, name="shared")
    (figure,) = figures
    top_left = figure.axes[0]
    lines = {container.get_label(): container.lines[0] for container in top_left.containers}  # errorbar's data lines
    bfd, shared = lines["bfd"], lines["bfd (shared)"]
    assert to_hex(bfd.get_color()) == to_hex(shared.get_color())
    assert bfd.get_linestyle() == "-" and shared.get_linestyle() == "--"
    assert shared.get_markerfacecolor() == "white" and bfd.get_markerfacecolor() != "white"
    assert shared.get_ydata()[-1] == pytest.approx(bfd.get_ydata()[-1] + 0.25)  # 0.25 worse at every size
    (legend,) = figure.legends  # one legend for the figure, none per panel
    assert not any(ax.get_legend() for ax in figure.axes)
    assert "bfd (shared)" in [text.get_text() for text in legend.get_texts()]
