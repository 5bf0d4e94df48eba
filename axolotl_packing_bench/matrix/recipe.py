"""Render one Axolotl recipe (YAML) per matrix cell.

Recipes written for committing (`packbench recipes --out DIR`) keep
`packbench://` URIs and relative run paths, so they hold nothing specific to
one machine. Recipes written by `packbench run` for execution get every URI
resolved to a local path and absolute run paths.

Run paths: `output_dir` is `runs/<matrix>/<cell_id>/output`;
`dataset_prepared_path` is `runs/<matrix>/prepared`, shared by the cells of
a matrix. Axolotl files each prepared dataset under a hash of everything
that shapes it (tokenizer, sequence_len, sample_packing, dataset entries)
and prepares it under its own file lock, so cells that tokenize the same
data identically (every strategy but native, on one tokenizer) tokenize it
once instead of once per cell.

Every recipe opens with the exact command that runs it::

    # axolotl train recipes/paper/<cell_id>.yml --launcher accelerate
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from axolotl_packing_bench.assets.uri import is_asset_uri
from axolotl_packing_bench.constants import METRICS_FILE
from axolotl_packing_bench.core.text import shown_path
from axolotl_packing_bench.matrix.spec import PLUGIN, Cell, launcher_args
from axolotl_packing_bench.matrix.yamlio import dump_yaml

MARKER = "# packbench cell "
"""Second line of every generated recipe; `write_recipes` only ever deletes files carrying it."""

_HEAD_KEYS = ("base_model", "tokenizer_config", "datasets")
_TAIL_KEYS = (
    "sample_packing",
    "plugins",
    "packbench_strategy",
    "packbench_attention",
    "output_dir",
    "dataset_prepared_path",
)


RECIPE_FILE = "recipe.yml"
"""A cell's recipe inside its run directory: `runs/<matrix>/<cell_id>/recipe.yml`."""


def metrics_file_name(recipe: Mapping[str, Any]) -> str:
    """The metrics file a recipe's plugin writes: its `packbench_metrics_file`, else the plugin's default."""
    name = recipe.get("packbench_metrics_file")
    return str(name) if name else METRICS_FILE


def run_metrics_name(run_dir: str | Path) -> str:
    """The metrics file name of a run directory, read from the recipe that trained it.

    The recipe is the cell's `recipe.yml` in RUN_DIR, or in its parent when
    RUN_DIR is the cell's `output` folder; without one (or when it cannot be
    read) the plugin's default name.
    """
    import yaml

    root = Path(run_dir)
    for folder in (root, root.parent):
        path = folder / RECIPE_FILE
        if not path.is_file():
            continue
        try:
            recipe = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        return metrics_file_name(recipe if isinstance(recipe, Mapping) else {})
    return METRICS_FILE


def cell_run_dir(runs_dir: str | Path, cell: Cell) -> Path:
    """`<runs_dir>/<matrix>/<cell_id>`: where a cell's output, log and data go."""
    return Path(runs_dir) / cell.matrix / cell.cell_id


def has_uri(value: Any) -> bool:
    """Whether any string inside `value` is a `packbench://` URI."""
    if isinstance(value, str):
        return is_asset_uri(value)
    if isinstance(value, Mapping):
        return any(has_uri(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(has_uri(item) for item in value)
    return False


def resolve_uris(value: Any, resolve: Callable[[str], str]) -> Any:
    """A copy of `value` with every `packbench://` string passed through `resolve`."""
    if isinstance(value, str):
        return resolve(value) if is_asset_uri(value) else value
    if isinstance(value, Mapping):
        return {key: resolve_uris(item, resolve) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_uris(item, resolve) for item in value]
    return copy.deepcopy(value)


def default_resolver() -> Callable[[str], str]:
    """The assets resolver, imported only when a recipe is resolved."""
    from axolotl_packing_bench.assets import resolve_asset_uri

    return resolve_asset_uri


def prepared_dir(run_dir: str | Path) -> Path:
    """The matrix-wide prepared-dataset folder beside a cell's run directory."""
    return Path(run_dir).parent / "prepared"


def recipe_config(cell: Cell, *, run_dir: str | Path, resolve: Callable[[str], str] | None = None) -> dict[str, Any]:
    """The full Axolotl config of a cell, with the runner's paths for `run_dir`."""
    config = dict(cell.config)
    config["output_dir"] = f"{Path(run_dir).as_posix()}/output"
    config["dataset_prepared_path"] = prepared_dir(run_dir).as_posix()
    ordered = {key: config[key] for key in _HEAD_KEYS if key in config}
    ordered.update({key: value for key, value in config.items() if key not in _HEAD_KEYS and key not in _TAIL_KEYS})
    ordered.update({key: config[key] for key in _TAIL_KEYS if key in config})
    ordered = copy.deepcopy(ordered)
    return resolve_uris(ordered, resolve) if resolve is not None else ordered


def run_command(recipe_path: str | Path, launcher: str = "python", processes: int = 1) -> str:
    """The shell command that trains one recipe with Axolotl's own CLI (on `processes` ranks)."""
    command = f"axolotl train {Path(recipe_path).as_posix()} --launcher {launcher}"
    extra = launcher_args(launcher, processes)
    return f"{command} -- {' '.join(extra)}" if extra else command


def render_recipe(
    cell: Cell,
    *,
    recipe_path: str | Path,
    run_dir: str | Path,
    resolve: Callable[[str], str] | None = None,
) -> str:
    """The YAML text of one cell's recipe, opening with the command that runs it.

    Args:
        cell: The matrix cell.
        recipe_path: Where the file will be written, as the user will type it.
        run_dir: Directory for `output_dir` and `dataset_prepared_path`.
        resolve: Maps `packbench://` URIs to local paths; None keeps the URIs.
    """
    config = recipe_config(cell, run_dir=run_dir, resolve=resolve)
    axes = " ".join(f"{name}={label}" for name, label in cell.axes.items())
    lines = [
        f"# {run_command(recipe_path, cell.launcher, cell.num_processes)}",
        f"{MARKER}{cell.cell_id} (matrix {cell.matrix}): {axes}",
    ]
    if isinstance(config.get("deepspeed"), str) and config["deepspeed"].startswith("deepspeed_configs/"):
        lines.append("# Run `axolotl fetch deepspeed_configs` in this directory first.")
    if has_uri(config):
        lines.append(
            "# packbench:// URIs name embedded assets: `packbench run` resolves them; "
            "for a hand run write this file with `packbench recipes --resolve`."
        )
    if PLUGIN not in (config.get("plugins") or []):
        lines.append("# Plain Axolotl (no packbench plugin): training metrics come from the log.")
    lines.append("# Generated by packbench from the matrix; edit the matrix, not this file.")
    return "\n".join(lines) + "\n" + dump_yaml(config)


def write_recipes(
    cells: Iterable[Cell],
    out_dir: str | Path,
    *,
    runs_dir: str | Path = "runs",
    resolve: Callable[[str], str] | None = None,
    prune: bool = True,
) -> list[Path]:
    """Write `<out_dir>/<cell_id>.yml` for every cell.

    With `prune`, generated recipes of cells not in `cells` are deleted. Only
    `.yml` files that carry the packbench marker are ever deleted, so
    hand-written files in `out_dir` are safe.
    """
    from axolotl_packing_bench.core.fileio import atomic_write_text

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for cell in cells:
        path = out / f"{cell.cell_id}.yml"
        run_dir = cell_run_dir(runs_dir, cell)
        text = render_recipe(cell, recipe_path=shown_path(path), run_dir=run_dir.as_posix(), resolve=resolve)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            atomic_write_text(path, text)
        written.append(path)
    keep = {path.name for path in written}
    for stale in sorted(out.glob("*.yml")) if prune else ():
        if stale.name not in keep and _is_generated(stale):
            stale.unlink()
    return written


def _is_generated(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8") as handle:
            return any(line.startswith(MARKER) for line in [handle.readline(), handle.readline()])
    except OSError:
        return False
