"""The checks of `packbench validate`, shared with `packbench run` (which runs them before training)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from axolotl_packing_bench.matrix.problems import Problem


def matrix_problems(
    matrix: Any,
    cells: Sequence[Any],
    *,
    schema: bool = True,
    data: bool = True,
    progress: Callable[[str], None] | None = None,
    local: bool = True,
) -> list[Problem]:
    """Every problem of a loaded matrix: Axolotl's schema and unknown keys, dataset files, local models, judge key,
    and (`local`: the cells train on this machine) more training processes than its cores.

    `progress` receives a line now and then while the schema check runs past a few seconds.
    """
    from axolotl_packing_bench.matrix.processes import processes_problems

    problems: list[Problem] = processes_problems(matrix, cells, cores=os.cpu_count() if local else None)
    if schema:
        from axolotl_packing_bench.matrix.schema import check_cells

        problems += check_cells(matrix, cells, progress=progress)
    if data:
        from axolotl_packing_bench.matrix.datacheck import check_cell_datasets
        from axolotl_packing_bench.matrix.modelcheck import check_cell_models

        problems += check_cell_models(matrix, cells)
        problems += check_cell_datasets(matrix, cells)
    problems += judge_key_problems(matrix.sections.get("eval"), str(matrix.path))
    return problems


def stderr_lines() -> Callable[[str], None]:
    """Print progress lines to this moment's stderr (the schema check silences Axolotl by redirecting it)."""
    stream = click.get_text_stream("stderr")
    return lambda line: click.echo(line, file=stream)


def judge_key_problems(section: Any, file: str) -> list[Problem]:
    """A problem when the matrix's judge lacks its API key, by the rule `run` and `judge` use (`eval.section`)."""
    from axolotl_packing_bench.eval.judge import DEFAULT_API_KEY_ENV
    from axolotl_packing_bench.eval.section import judge_key_problem

    if judge_key_problem(section) is None:
        return []
    name = section["judge"].get("api_key_env") or DEFAULT_API_KEY_ENV
    return [
        Problem(
            file,
            "eval.judge.api_key_env",
            f"names the variable {name}, which is not set, so every cell's judge scores would fail",
            f"export {name}=<your key> before running, or set eval.judge.no_api_key to true "
            "for a judge that needs no key",
        )
    ]


def describe_checks(schema: bool, data: bool) -> str:
    """What a validation covered, e.g. `checked against Axolotl's schema, dataset files checked`."""
    return ", ".join(
        [
            "checked against Axolotl's schema" if schema else "schema not checked",
            "dataset files and model paths checked" if data else "dataset files and model paths not checked",
        ]
    )


def recipe_problems(path: Path, config: dict[str, Any], *, schema: bool = True, data: bool = True) -> list[Problem]:
    """Every problem of one hand-written recipe (its config already read)."""
    problems: list[Problem] = []
    if schema:
        from axolotl_packing_bench.matrix.schema import check_recipe_file

        problems += check_recipe_file(path)
    if data:
        from axolotl_packing_bench.matrix.datacheck import check_recipe_datasets
        from axolotl_packing_bench.matrix.modelcheck import check_recipe_models

        problems += check_recipe_models(path, config)
        problems += check_recipe_datasets(path, config)
    return problems
