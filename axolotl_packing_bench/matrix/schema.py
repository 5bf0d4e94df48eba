"""Check generated recipes against Axolotl's own config schema, offline.

Axolotl validates a recipe with its own `validate_config`: its pydantic
`AxolotlInputConfig`, merged with every registered plugin's args model (both
reached through `compat.axolotl_api`). We call it without
GPU capabilities and without loading any model config, so nothing touches
the network; model-dependent checks happen when the cell runs.

Pydantic ignores keys it does not know, so a misspelt key would silently do
nothing: we report keys that neither Axolotl nor a plugin defines too.

Each problem names the file and key the user edits (followed back through
the cell's `sources`), deduplicated across cells.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from axolotl_packing_bench.matrix.spec import PLUGIN, Cell, Matrix
from axolotl_packing_bench.core.text import did_you_mean
from axolotl_packing_bench.matrix.problems import Problem
from axolotl_packing_bench.matrix.recipe import recipe_config


@contextlib.contextmanager
def _quiet() -> Any:
    """Silence Axolotl's logging and prints while validating."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        logging.disable(previous)


def _schema_classes(plugins: Sequence[str]) -> tuple[Any, Any]:
    """(AxolotlInputConfig merged with `plugins`' args, dataset entry model)."""
    from axolotl_packing_bench.compat.axolotl_api import SFTDataset, input_config_class, register_plugin

    for name in plugins:
        if not register_plugin(name):
            raise ImportError(f"{name} cannot be imported")
    return input_config_class(), SFTDataset


def _field_names(model: Any) -> set[str]:
    names = set()
    for name, info in model.model_fields.items():
        names.add(name)
        if info.alias:
            names.add(info.alias)
        if isinstance(info.validation_alias, str):
            names.add(info.validation_alias)
    return names


def _where(matrix: Matrix, cell: Cell, key_path: Sequence[Any]) -> tuple[str, str]:
    """(file, dotted key) to show for a problem at `key_path` of a cell's config."""
    if not key_path:
        return str(matrix.path), ""
    top = str(key_path[0])
    rest = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in key_path[1:])
    source = cell.sources.get(top)
    if source is None:
        return str(matrix.path), top + rest
    if matrix.base_file is not None and source == str(matrix.base_file):
        return str(matrix.base_file), top + rest
    if source.startswith("axes.model[") and top == "base_model":
        return str(matrix.path), f"{source}.path"
    if source.startswith("axes.dataset[") and top == "datasets":
        return str(matrix.path), f"{source}.datasets{rest}"
    if source in ("axes.strategy",) or (source.startswith("axes.") and source == f"axes.{top}"):
        return str(matrix.path), source
    return str(matrix.path), f"{source}.{top}{rest}"


def _fix(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    message = str(error.get("msg", ""))
    if kind == "missing":
        return "add it"
    if message.startswith("Input should be "):
        return "make it " + message[len("Input should be ") :].rstrip(".")
    if kind == "extra_forbidden":
        return "remove it"
    return "change the value as the message says"


def _check_config(config: Mapping[str, Any], classes: tuple[Any, Any], where: Callable[[Sequence[Any]], tuple[str, str]]) -> list[Problem]:
    from pydantic import ValidationError

    from axolotl_packing_bench.compat.axolotl_api import validate

    input_config, dataset_model = classes
    problems: list[Problem] = []
    known = _field_names(input_config)
    for key in config:
        if key not in known:
            file, at = where([key])
            problems.append(
                Problem(file, at, f"unknown Axolotl key{did_you_mean(key, known)}, which Axolotl would silently ignore", "rename or remove it")
            )
    dataset_keys = _field_names(dataset_model)
    for index, entry in enumerate(config.get("datasets") or []):
        if isinstance(entry, Mapping):
            for key in entry:
                if key not in dataset_keys:
                    file, at = where(["datasets", index, key])
                    problems.append(Problem(file, at, f"unknown dataset key{did_you_mean(key, dataset_keys)}", "rename or remove it"))
    try:
        with _quiet():
            validate(copy.deepcopy(dict(config)))
    except ValidationError as error:
        for item in error.errors(include_url=False):
            location = [part for part in item.get("loc", ()) if part not in ("function-after", "function-before")]
            file, at = where(location)
            message = str(item.get("msg", "invalid")).rstrip(".")
            problems.append(Problem(file, at, message, _fix(item)))
    except Exception as error:  # noqa: BLE001 - Axolotl raises plain ValueErrors from some checks
        file, _ = where([])
        problems.append(Problem(file, "", f"Axolotl rejects the recipe: {error}".rstrip("."), "change the settings the message names"))
    return problems


def check_cell(matrix: Matrix, cell: Cell, classes: tuple[Any, Any]) -> list[Problem]:
    """Problems of one cell's recipe against Axolotl's schema (merged with plugins)."""
    config = recipe_config(cell, run_dir=f"runs/{cell.matrix}/{cell.cell_id}")
    return _check_config(config, classes, lambda path: _where(matrix, cell, path))


def check_recipe_file(path: str | Path) -> list[Problem]:
    """Problems of a written recipe file (e.g. recipes/paper/*.yml) against Axolotl's schema."""
    from axolotl_packing_bench.matrix.problems import MatrixError
    from axolotl_packing_bench.matrix.yamlio import load_yaml_file

    try:
        config = load_yaml_file(Path(path))
    except MatrixError as error:
        return list(error.problems)
    if not isinstance(config, Mapping):
        return [Problem(str(path), "", "is not a YAML mapping", "write the recipe as key: value lines")]
    with _quiet():
        classes = _schema_classes(list(config.get("plugins") or []))

    def where(location: Sequence[Any]) -> tuple[str, str]:
        return str(path), "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in location).lstrip(".")

    return _check_config(config, classes, where)


def check_cells(matrix: Matrix, cells: Iterable[Cell]) -> list[Problem]:
    """Every distinct problem of every cell, with how many cells show it.

    Imports Axolotl (slow: tens of seconds on a small CPU). When a recipe
    uses the packbench plugin and it cannot be imported, that is the problem
    reported.
    """
    cells = list(cells)
    plugins = sorted({name for cell in cells for name in cell.config.get("plugins") or []})
    try:
        with _quiet():
            classes = _schema_classes(plugins)
    except Exception as error:  # noqa: BLE001
        culprit = PLUGIN if PLUGIN in plugins else ", ".join(plugins) or "axolotl"
        return [Problem(str(matrix.path), "plugin", f"cannot load {culprit} to validate the recipes ({error})".rstrip("."), "install the package that provides it, or set `plugin: false`")]
    counts: dict[Problem, int] = {}
    for cell in cells:
        for problem in dict.fromkeys(check_cell(matrix, cell, classes)):
            counts[problem] = counts.get(problem, 0) + 1
    return [Problem(p.file, p.key, p.message, p.fix, cells=count) for p, count in counts.items()]
