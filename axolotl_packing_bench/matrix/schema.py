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

A big matrix is checked once per distinct recipe *shape*, not once per cell:
cells whose recipes differ only in the runner's paths (`RUNNER_KEYS`) or in
the values of `VALUE_KEYS` share one check. Axolotl (and the plugin) read
those keys only through their own field's validator or as "set or not", so
the shape keeps each one's type and truthiness. Every distinct value of them
is checked once first; a cell holding a value that Axolotl rejects (or whose
check a cross-key error may have hidden) is checked on its own. The problems
found are the same as checking every cell, with the same counts.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from axolotl_packing_bench.core.text import did_you_mean
from axolotl_packing_bench.matrix.problems import Problem
from axolotl_packing_bench.matrix.recipe import recipe_config
from axolotl_packing_bench.matrix.spec import PLUGIN, Cell, Matrix, canonical_json


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
    from axolotl_packing_bench.compat.axolotl_api import (
        SFTDataset,
        input_config_class,
        register_plugin,
    )

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


RUNNER_KEYS = ("output_dir", "dataset_prepared_path")
"""Keys `packbench run` writes per cell (plain strings, no validator reads them)."""
VALUE_KEYS = ("seed", "learning_rate", "num_epochs", "weight_decay", "warmup_ratio")
"""Keys whose value no cross-key validator reads beyond "set or not" (Axolotl 0.19's validators and the plugin's;
tests/matrix/test_schema.py compares the grouped check with checking every cell)."""
PROGRESS_AFTER_S = 3.0
"""Seconds of checking before a progress line is shown (and then about every 5 s)."""


def _check_config(
    config: Mapping[str, Any], classes: tuple[Any, Any], where: Callable[[Sequence[Any]], tuple[str, str]]
) -> list[Problem]:
    from pydantic import ValidationError

    from axolotl_packing_bench.compat.axolotl_api import validate

    input_config, dataset_model = classes
    problems: list[Problem] = []
    known = _field_names(input_config)
    for key in config:
        if key not in known:
            file, at = where([key])
            problems.append(
                Problem(
                    file,
                    at,
                    f"unknown Axolotl key{did_you_mean(key, known)}, which Axolotl would silently ignore",
                    "rename or remove it",
                )
            )
    dataset_keys = _field_names(dataset_model)
    for index, entry in enumerate(config.get("datasets") or []):
        if isinstance(entry, Mapping):
            for key in entry:
                if key not in dataset_keys:
                    file, at = where(["datasets", index, key])
                    problems.append(
                        Problem(
                            file, at, f"unknown dataset key{did_you_mean(key, dataset_keys)}", "rename or remove it"
                        )
                    )
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
        problems.append(
            Problem(
                file, "", f"Axolotl rejects the recipe: {error}".rstrip("."), "change the settings the message names"
            )
        )
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


def _shape(config: Mapping[str, Any], sources: Mapping[str, str]) -> str:
    """What Axolotl's validation can tell apart in a cell's recipe: values of VALUE_KEYS as type and truthiness."""
    masked = {
        key: "<runner>"
        if key in RUNNER_KEYS
        else f"<{type(value).__name__}:{bool(value)}>"
        if key in VALUE_KEYS
        else value
        for key, value in config.items()
    }
    return canonical_json([masked, sources])


class _Ticker:
    """Calls `progress` with a line when checking takes longer than PROGRESS_AFTER_S, then every 5 s."""

    def __init__(self, progress: Callable[[str], None] | None, total: int = 0):
        self.progress, self.total = progress, total
        self.began = time.monotonic()
        self.next_at = self.began + PROGRESS_AFTER_S

    def tick(self, done: int) -> None:
        now = time.monotonic()
        if self.progress is not None and now >= self.next_at:
            self.progress(f"validate: {done} of {self.total} schema checks done ({now - self.began:.0f} s)")
            self.next_at = now + 5.0


def _load_classes(plugins: Sequence[str], progress: Callable[[str], None] | None) -> tuple[Any, Any]:
    """`_schema_classes`, saying so when importing Axolotl takes more than PROGRESS_AFTER_S."""
    timer = None
    if progress is not None:
        timer = threading.Timer(PROGRESS_AFTER_S, progress, args=("validate: importing Axolotl to check its schema",))
        timer.daemon = True
        timer.start()
    try:
        with _quiet():
            return _schema_classes(plugins)
    finally:
        if timer is not None:
            timer.cancel()


def check_cells(matrix: Matrix, cells: Iterable[Cell], progress: Callable[[str], None] | None = None) -> list[Problem]:
    """Every distinct problem of every cell, with how many cells show it.

    Imports Axolotl (slow: seconds to tens of seconds on a small CPU), then
    validates one recipe per distinct value of each of VALUE_KEYS and one
    per distinct shape (see the module docstring). When a recipe uses the
    packbench plugin and it cannot be imported, that is the problem
    reported. `progress` gets a line when checking runs past a few seconds.
    """
    cells = list(cells)
    ticker = _Ticker(progress)
    plugins = sorted({name for cell in cells for name in cell.config.get("plugins") or []})
    try:
        classes = _load_classes(plugins, progress)
    except Exception as error:  # noqa: BLE001
        culprit = PLUGIN if PLUGIN in plugins else ", ".join(plugins) or "axolotl"
        return [
            Problem(
                str(matrix.path),
                "plugin",
                f"cannot load {culprit} to validate the recipes ({error})".rstrip("."),
                "install the package that provides it, or set `plugin: false`",
            )
        ]
    shapes: dict[str, list[tuple[Cell, dict[str, Any]]]] = {}
    values: dict[tuple[str, str, str], list[Cell]] = {}
    value_keys: dict[str, list[tuple[str, str, str]]] = {}
    for cell in cells:
        config = recipe_config(cell, run_dir=f"runs/{cell.matrix}/{cell.cell_id}")
        shapes.setdefault(_shape(config, cell.sources), []).append((cell, config))
        for key in VALUE_KEYS:
            if key in config:
                group = (key, canonical_json([type(config[key]).__name__, config[key]]), cell.sources.get(key, ""))
                values.setdefault(group, []).append(cell)
                value_keys.setdefault(cell.cell_id, []).append(group)
    ticker.total = len(shapes) + len(values)
    counts: dict[Problem, int] = {}

    def count(found: Iterable[Problem], times: int) -> None:
        for problem in dict.fromkeys(found):
            counts[problem] = counts.get(problem, 0) + times

    from axolotl_packing_bench.compat.axolotl_api import schema_built_once

    with schema_built_once():
        suspect: set[tuple[str, str, str]] = set()
        for done, (group, members) in enumerate(values.items(), start=1):
            if not _value_is_clean(members[0], group[0]):
                suspect.add(group)
            ticker.tick(done)
        for done, members in enumerate(shapes.values(), start=len(values) + 1):
            clean = [m for m in members if not suspect.intersection(value_keys.get(m[0].cell_id, ()))]
            if clean:  # these differ only in values Axolotl accepts: one check speaks for all
                cell, config = clean[0]
                count(_check_config(config, classes, lambda path, c=cell: _where(matrix, c, path)), len(clean))
            clean_ids = {m[0].cell_id for m in clean}
            for cell, config in members:  # a value that may be invalid: that cell is checked on its own
                if cell.cell_id not in clean_ids:
                    count(_check_config(config, classes, lambda path, c=cell: _where(matrix, c, path)), 1)
            ticker.tick(done)
    return [Problem(p.file, p.key, p.message, p.fix, cells=n) for p, n in counts.items()]


def _value_is_clean(cell: Cell, key: str) -> bool:
    """Whether Axolotl accepts `cell`'s value of `key` (a VALUE_KEYS key) with its field validation seen to run.

    False when the value is rejected, or when an error of the whole config (a cross-key rule) may have hidden it.
    """
    from pydantic import ValidationError

    from axolotl_packing_bench.compat.axolotl_api import validate

    config = recipe_config(cell, run_dir=f"runs/{cell.matrix}/{cell.cell_id}")
    try:
        with _quiet():
            validate(config)
    except ValidationError as error:
        return not any(not item.get("loc") or item["loc"][0] == key for item in error.errors(include_url=False))
    except Exception:  # noqa: BLE001 - a plain error of the whole config
        return False
    return True
