"""`packbench validate`'s model check: local model and tokenizer paths exist before anything trains.

A path "looks local" when it is absolute, starts with `./`, `../` or `~`,
has more than two parts, or exists here (transformers then reads it from
disk). `org/name` hub ids and `packbench://` URIs are left alone: the hub is
checked when the cell runs, the embedded assets are built on demand.
Relative paths are read from this directory, as `packbench run` reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from axolotl_packing_bench.matrix.problems import Problem
from axolotl_packing_bench.matrix.spec import Cell, Matrix

MODEL_KEYS = ("base_model", "base_model_config")
"""Keys naming a model folder, which must hold a config.json."""
TOKENIZER_KEYS = ("tokenizer_config",)
"""Keys naming a tokenizer folder, which must exist."""
_LOCAL_PREFIXES = ("/", "./", "../", "~", ".\\")


def local_model_path(value: Any) -> Path | None:
    """The local folder a model or tokenizer setting names, or None (hub id, URI, not a string)."""
    if not isinstance(value, str) or not value.strip() or "://" in value:
        return None
    path = Path(value).expanduser()
    if value.startswith(_LOCAL_PREFIXES) or path.is_absolute() or len(Path(value).parts) > 2 or path.exists():
        return path
    return None


def path_problem(key: str, value: Any) -> tuple[str, str] | None:
    """(what is wrong, fix) for one model or tokenizer setting, or None when it is fine or not local."""
    path = local_model_path(value)
    if path is None:
        return None
    what = "model" if key in MODEL_KEYS else "tokenizer"
    if not path.exists():
        return (
            f"the local {what} path {value} does not exist",
            "point it at a folder saved with save_pretrained(), or use a hub id such as org/name",
        )
    if not path.is_dir():
        return (
            f"the local {what} path {value} is a file, not a folder",
            "point it at the folder saved with save_pretrained()",
        )
    if key in MODEL_KEYS and not (path / "config.json").is_file():
        return (
            f"the local model folder {value} holds no config.json",
            "point it at a folder saved with save_pretrained()",
        )
    return None


def _config_problems(
    config: Mapping[str, Any],
    where: Callable[[Sequence[Any]], tuple[str, str]],
    cache: dict[tuple[str, str], tuple[str, str] | None],
) -> list[Problem]:
    problems = []
    for key in (*MODEL_KEYS, *TOKENIZER_KEYS):
        value = config.get(key)
        if not isinstance(value, str):
            continue
        if (key, value) not in cache:
            cache[(key, value)] = path_problem(key, value)
        if (found := cache[(key, value)]) is not None:
            file, at = where([key])
            problems.append(Problem(file, at, *found))
    return problems


def check_cell_models(matrix: Matrix, cells: Iterable[Cell]) -> list[Problem]:
    """Every distinct problem of the cells' local model and tokenizer paths, with how many cells show it."""
    from axolotl_packing_bench.matrix.schema import _where

    cache: dict[tuple[str, str], tuple[str, str] | None] = {}
    counts: dict[Problem, int] = {}
    for cell in cells:
        for problem in dict.fromkeys(
            _config_problems(cell.config, lambda path, c=cell: _where(matrix, c, path), cache)
        ):
            counts[problem] = counts.get(problem, 0) + 1
    return [Problem(p.file, p.key, p.message, p.fix, cells=count) for p, count in counts.items()]


def check_recipe_models(path: str | Path, config: Mapping[str, Any]) -> list[Problem]:
    """Problems of the local model and tokenizer paths of a written recipe."""

    def where(location: Sequence[Any]) -> tuple[str, str]:
        return str(path), ".".join(str(part) for part in location)

    return _config_problems(config, where, {})
