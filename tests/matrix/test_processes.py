"""`num_processes`: cells trained by several processes (ranks), as a matrix key or an axis."""

from __future__ import annotations

import pytest

from axolotl_packing_bench.matrix.problems import MatrixError
from axolotl_packing_bench.matrix.processes import processes_problems
from axolotl_packing_bench.matrix.recipe import render_recipe
from axolotl_packing_bench.matrix.spec import expand, launcher_args, load_matrix
from tests.matrix.test_spec import EXPECTED_IDS
from tests.support.helpers import HAND_MATRIX

TWO_RANKS = "# axolotl train r.yml --launcher torchrun -- --standalone --nproc_per_node 2"


def with_axis(values: str) -> str:
    """HAND_MATRIX with a `num_processes: VALUES` axis."""
    axis = "  attention: [isolated, shared]\n"
    return HAND_MATRIX.replace(axis, f"{axis}  num_processes: {values}\n")


def problems_of(path) -> list[str]:
    with pytest.raises(MatrixError) as info:
        expand(load_matrix(path))
    return [str(problem) for problem in info.value.problems]


def test_one_process_is_the_default_and_keeps_every_cell_id(hand_matrix):
    cells = expand(load_matrix(hand_matrix))
    assert {(cell.num_processes, cell.launcher) for cell in cells} == {(1, "python")}
    assert [cell.cell_id for cell in cells] == EXPECTED_IDS


def test_a_top_level_count_runs_every_cell_under_torchrun_with_its_own_id(write_matrix):
    cells = expand(load_matrix(write_matrix("num_processes: 2\n" + HAND_MATRIX)))
    assert {(cell.num_processes, cell.launcher) for cell in cells} == {(2, "torchrun")}
    assert all("__num_processes=2-" in cell.cell_id for cell in cells)
    assert not {cell.cell_id for cell in cells} & set(EXPECTED_IDS)  # never the one-process cells' results
    assert all("num_processes" not in cell.config for cell in cells)  # the runner's key, not Axolotl's
    lines = render_recipe(cells[0], recipe_path="r.yml", run_dir="runs/r").splitlines()
    assert lines[0] == TWO_RANKS


def test_as_an_axis_it_doubles_the_cells_and_stays_out_of_the_recipe(write_matrix):
    cells = expand(load_matrix(write_matrix(with_axis("[1, 2]"))))
    assert len(cells) == 2 * len(EXPECTED_IDS)
    one = [cell for cell in cells if cell.axes["num_processes"] == "1"]
    two = [cell for cell in cells if cell.axes["num_processes"] == "2"]
    assert {(cell.num_processes, cell.launcher) for cell in one} == {(1, "python")}  # the warm worker's
    assert {(cell.num_processes, cell.launcher) for cell in two} == {(2, "torchrun")}
    assert all("num_processes" not in cell.config for cell in cells)
    assert render_recipe(two[0], recipe_path="r.yml", run_dir="runs/r").splitlines()[0] == TWO_RANKS


def test_accelerate_keeps_its_launcher_and_gets_the_count():
    assert launcher_args("accelerate", 4) == ["--num_processes", "4"]
    assert launcher_args("torchrun", 2) == ["--standalone", "--nproc_per_node", "2"]
    assert launcher_args("torchrun", 1) == [] and launcher_args("python", 1) == []


def test_accelerate_cells_keep_accelerate(write_matrix):
    cells = expand(load_matrix(write_matrix("launcher: accelerate\nnum_processes: 4\n" + HAND_MATRIX)))
    assert {(cell.num_processes, cell.launcher) for cell in cells} == {(4, "accelerate")}
    first = render_recipe(cells[0], recipe_path="r.yml", run_dir="runs/r").splitlines()[0]
    assert first == "# axolotl train r.yml --launcher accelerate -- --num_processes 4"


@pytest.mark.parametrize(
    ("value", "shown"), [("0", "0"), ("-1", "-1"), ("two", "'two'"), ("1.5", "1.5"), ("true", "True")]
)
def test_a_count_that_is_not_a_whole_number_from_one_is_refused_in_one_sentence(write_matrix, value, shown):
    path = write_matrix(f"num_processes: {value}\n" + HAND_MATRIX)
    assert problems_of(path) == [
        f"{path}: num_processes: {shown} is not a number of training processes; "
        "fix: write a whole number, 1 or more (e.g. num_processes: 2)."
    ]


def test_bad_axis_values_and_the_python_launcher_are_refused(write_matrix):
    (problem,) = problems_of(write_matrix(with_axis("[2, 0]")))
    assert "axes.num_processes: 0 is not a number of training processes" in problem
    (problem,) = problems_of(write_matrix("launcher: python\nnum_processes: 2\n" + HAND_MATRIX))
    assert "launcher: python starts one training process, and num_processes asks for 2" in problem
    assert "use launcher: torchrun (or accelerate), or leave launcher out" in problem
    (problem,) = problems_of(write_matrix("num_processes: 2\n" + with_axis("[1, 2]")))
    assert "num_processes: is set at the top and as an axis" in problem


def test_more_processes_than_cores_is_a_problem_on_this_machine_only(write_matrix):
    matrix = load_matrix(write_matrix("num_processes: 3\n" + HAND_MATRIX))
    cells = expand(matrix)
    (problem,) = processes_problems(matrix, cells, cores=2)
    assert str(problem) == (
        f"{matrix.path}: num_processes: asks for 3 training processes and this machine has 2 CPU cores "
        f"({len(cells)} cells); fix: lower num_processes to 2 or fewer, or run the matrix with --backend ray or "
        "slurm on machines with more cores."
    )
    assert processes_problems(matrix, cells, cores=3) == []
    assert processes_problems(matrix, cells, cores=None) == []  # a cluster's nodes decide


def test_validate_counts_this_machines_cores(write_matrix, monkeypatch):
    import os

    from axolotl_packing_bench.cli.validation import matrix_problems

    matrix = load_matrix(write_matrix("num_processes: 2\n" + HAND_MATRIX))
    cells = expand(matrix)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    (problem,) = matrix_problems(matrix, cells, schema=False, data=False)
    assert "asks for 2 training processes and this machine has 1 CPU core (6 cells);" in str(problem)
    assert matrix_problems(matrix, cells, schema=False, data=False, local=False) == []
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert matrix_problems(matrix, cells, schema=False, data=False) == []
