"""Resources per cell: derived from the recipe, overridden by the matrix's `resources:` section."""

from __future__ import annotations

from pathlib import Path

import pytest

from axolotl_packing_bench.matrix.spec import expand, load_matrix
from axolotl_packing_bench.running.backends.resources import (
    Resources,
    ResourcesError,
    deepspeed_stage,
    matrix_resources,
    parse_memory_mb,
    parse_resources,
    parse_size,
)

PAPER = Path(__file__).parents[2] / "recipes" / "matrices" / "paper.yaml"
AXES = {"model": ("small", "big"), "strategy": ("padding", "greedy")}


def test_parse_size():
    assert parse_size("8B") == 8
    assert parse_size("70b") == 70
    assert parse_size("350M") == pytest.approx(0.35)
    assert parse_size(None) is None
    assert parse_size("huge") is None


def test_deepspeed_stage():
    assert deepspeed_stage({}) is None
    assert deepspeed_stage({"deepspeed": "deepspeed_configs/zero3_bf16.json"}) == 3
    assert deepspeed_stage({"deepspeed": "zero2.json"}) == 2
    assert deepspeed_stage({"deepspeed": {"zero_optimization": {"stage": 1}}}) == 1


def test_parse_memory():
    assert parse_memory_mb("64G") == 64 * 1024
    assert parse_memory_mb("512M") == 512
    assert parse_memory_mb(2) == 2048
    with pytest.raises(ValueError):
        parse_memory_mb("lots")


def test_paper_cells_ask_for_one_8_gpu_node():
    matrix = load_matrix(PAPER)
    rules = matrix_resources(matrix)
    asked = {cell.axes["model"]: rules.for_cell(cell) for cell in expand(matrix)}
    assert asked["llama-3-8b"] == Resources(cpus=64, gpus=8, memory_mb=512 * 1024, time_s=None)
    assert asked["llama-3-70b"] == Resources(cpus=64, gpus=8, memory_mb=1024 * 1024, time_s=None)


def test_smoke_cells_run_on_cpu():
    matrix = load_matrix(PAPER.parent / "smoke.yaml")
    cell = expand(matrix)[0]
    need = matrix_resources(matrix).for_cell(cell)
    assert need.gpus == 0 and need.time_s == matrix.timeout


def test_overrides_in_both_forms_later_wins(cpu_matrix):
    section = {
        "default": {"cpus": 1, "gpus": 0},
        "model": {"big": {"gpus": 2, "memory": "100G"}},
        "model=big": {"cpus": 3, "time": "2h"},
    }
    rules = parse_resources(section, AXES)
    cells = {cell.axes["model"]: cell for cell in expand(load_matrix(cpu_matrix))}
    assert rules.for_cell(cells["small"]).cpus == 1 and rules.for_cell(cells["small"]).gpus == 0
    big = rules.for_cell(cells["big"])
    assert (big.cpus, big.gpus, big.memory, big.time_s) == (3, 2, "100G", 7200)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ([1], "resources must be a mapping"),
        ({"default": {"gpu": 1}}, "resources.default.gpu is not a resource"),
        (
            {"default": {"cpus": 0}},
            "resources.default.cpus must be a whole number >= 1",
        ),
        (
            {"default": {"gpus": 1.5}},
            "resources.default.gpus must be a whole number >= 0",
        ),
        (
            {"default": {"memory": "lots"}},
            "resources.default.memory 'lots' is not a size",
        ),
        (
            {"default": {"time": "soon"}},
            "resources.default.time 'soon' is not a duration",
        ),
        ({"size": {"x": {"cpus": 1}}}, "the matrix has no axis 'size'"),
        ({"model=huge": {"cpus": 1}}, "axis model has no value 'huge'"),
        ({"model": [1]}, "resources.model must map values of axis model"),
    ],
)
def test_bad_sections_say_what_to_fix(section, message):
    with pytest.raises(ResourcesError, match=message.replace("(", r"\(").replace("[", r"\[")):
        parse_resources(section, AXES)


def test_cli_refuses_a_bad_section(tmp_path, cpu_matrix):
    from click.testing import CliRunner

    from axolotl_packing_bench.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text(cpu_matrix.read_text().replace("{cpus: 1, gpus: 0}", "{cpus: many}"))
    outcome = CliRunner().invoke(main, ["run", "--matrix", str(bad), "--backend", "slurm", "--dry-run"])
    assert outcome.exit_code != 0
    assert "resources.default.cpus must be a whole number" in outcome.output
    assert "Traceback" not in outcome.output


def test_several_processes_ask_for_a_core_or_a_gpu_each(write_matrix):
    """HAND_MATRIX: `small` is 1B (one GPU), `big` 7B; a tiny embedded model trains on the CPU."""
    from dataclasses import replace

    from axolotl_packing_bench.running.backends.resources import derive
    from tests.support.helpers import HAND_MATRIX

    one = {cell.axes["model"]: derive(cell) for cell in expand(load_matrix(write_matrix(HAND_MATRIX)))}
    cells = expand(load_matrix(write_matrix("num_processes: 4\n" + HAND_MATRIX, "four.yaml")))
    four = {cell.axes["model"]: derive(cell) for cell in cells}
    assert one["small"].gpus == 1 and four["small"] == replace(one["small"], gpus=4, cpus=32)
    cpu_cell = replace(cells[0], labels={"model_size": None, "dataset_size": None})
    cpu_one = derive(replace(cpu_cell, num_processes=1))
    assert cpu_one.gpus == 0 and cpu_one.cpus == 2
    assert derive(cpu_cell) == replace(cpu_one, cpus=4, memory_mb=4 * cpu_one.memory_mb)  # each rank its model
