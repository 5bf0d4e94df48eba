"""`packbench validate`'s dataset check: every local dataset file of a matrix or recipe, as `stats` reads it.

Each problem names the file and key to edit (the dataset entry's `path`),
the dataset file and line, and the fix; a file shared by many cells is
checked once and reported once, with how many cells read it. Hub ids,
directories and `packbench://` URIs are not checked (see `data.files`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from axolotl_packing_bench.data.files import DatasetFileError, check_dataset_file, local_dataset_file, split_fix
from axolotl_packing_bench.matrix.problems import Problem
from axolotl_packing_bench.matrix.spec import Cell, Matrix


def _entry_problems(
    entries: Any, where: Callable[[Sequence[Any]], tuple[str, str]], cache: dict[str, str | None]
) -> list[Problem]:
    problems = []
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(entry, Mapping) or (path := local_dataset_file(entry)) is None:
            continue
        key = json.dumps([str(path), {k: v for k, v in entry.items() if k != "path"}], sort_keys=True, default=str)
        if key not in cache:
            try:
                check_dataset_file(path, entry)
                cache[key] = None
            except DatasetFileError as error:
                cache[key] = str(error)
        if cache[key] is not None:
            what, fix = split_fix(cache[key])
            file, at = where(["datasets", index, "path"])
            problems.append(Problem(file, at, what, fix))
    return problems


def check_cell_datasets(matrix: Matrix, cells: Iterable[Cell]) -> list[Problem]:
    """Every distinct problem of the cells' local dataset files, with how many cells show it."""
    from axolotl_packing_bench.matrix.schema import _where

    cache: dict[str, str | None] = {}
    counts: dict[Problem, int] = {}
    for cell in cells:
        found = _entry_problems(cell.config.get("datasets"), lambda path, c=cell: _where(matrix, c, path), cache)
        for problem in dict.fromkeys(found):
            counts[problem] = counts.get(problem, 0) + 1
    return [Problem(p.file, p.key, p.message, p.fix, cells=count) for p, count in counts.items()]


def check_recipe_datasets(path: str | Path, config: Mapping[str, Any]) -> list[Problem]:
    """Problems of the local dataset files of a written recipe (key `datasets[i].path`)."""

    def where(location: Sequence[Any]) -> tuple[str, str]:
        return str(path), "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in location).lstrip(".")

    return _entry_problems(config.get("datasets"), where, {})
