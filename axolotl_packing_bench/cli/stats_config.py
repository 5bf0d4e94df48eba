"""What `packbench stats --config` reads from an Axolotl recipe: tokenizer, sequence_len, micro batch, datasets."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axolotl_packing_bench.cli.errors import UserInputError

AXOLOTL_MICRO_BATCH = 1
"""Axolotl's `micro_batch_size` when a config does not set it."""


@dataclass(frozen=True)
class RecipeSettings:
    """The settings of an Axolotl recipe that decide its rows and batches (None: not set there)."""

    capacity: int | None = None
    tokenizer: str | None = None
    micro_batch_size: int | None = None
    pad_multiple: int | None = None
    pads_to_multiple: bool = True
    seed: int | None = None
    datasets: list[str] = field(default_factory=list)
    formats: list[str | None] = field(default_factory=list)
    """Per dataset: the non-chat prompt format its `type` trains on (`alpaca[:style]`), else None."""


def read_recipe_settings(path: Path) -> RecipeSettings:
    """The stats settings of an Axolotl YAML; bad input raises `UserInputError` with one sentence."""
    from axolotl_packing_bench.data.prompt_formats import recipe_format
    from axolotl_packing_bench.matrix.problems import MatrixError
    from axolotl_packing_bench.matrix.yamlio import load_yaml_file

    try:
        config = load_yaml_file(path)
    except MatrixError as error:
        raise UserInputError(str(error.problems[0])) from None
    if not isinstance(config, dict):
        raise UserInputError(f"--config {path} is not a YAML mapping; pass an Axolotl recipe (key: value lines).")
    capacity = _int(config, "sequence_len", path)
    multiple, pads = _pad_multiple(config, capacity, path)
    datasets, formats = [], []
    for index, entry in enumerate(config.get("datasets") or []):
        where = f"datasets[{index}].path of {path}"
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise UserInputError(f"{where} is missing; give each dataset entry a path.")
        datasets.append(_dataset_path(entry, where))
        formats.append(recipe_format(entry))
    tokenizer = config.get("tokenizer_config") or config.get("base_model")
    return RecipeSettings(
        capacity=capacity,
        tokenizer=str(tokenizer) if tokenizer else None,
        micro_batch_size=_int(config, "micro_batch_size", path),
        pad_multiple=multiple,
        pads_to_multiple=pads,
        seed=_int(config, "seed", path),
        datasets=datasets,
        formats=formats,
    )


def _int(config: dict[str, Any], key: str, path: Path) -> int | None:
    value = config.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if key == "seed" else 1):
        raise UserInputError(f"{key} in {path} is {value!r}, not a positive integer; fix it in the recipe.")
    return value


def _pad_multiple(config: dict[str, Any], capacity: int | None, path: Path) -> tuple[int | None, bool]:
    """(pad_to_multiple_of, whether batches are rounded at all), as Axolotl's trainer builder sets them."""
    multiple = _int(config, "pad_to_multiple_of", path) or 64
    if config.get("pad_to_sequence_len"):
        return multiple * math.ceil((capacity or multiple) / multiple), True
    if config.get("pad_to_sequence_len") is False:
        return None, False
    return multiple, True


def _dataset_path(entry: dict[str, Any], where: str) -> str:
    """A dataset entry's local file (or packbench:// URI), as written."""
    from axolotl_packing_bench.assets.uri import is_asset_uri
    from axolotl_packing_bench.data.files import local_dataset_file

    text = entry["path"]
    if is_asset_uri(text) or local_dataset_file(entry) is not None:
        return text
    raise UserInputError(
        f"{where} is {text!r}, not a local dataset file; `packbench stats` reads local files: download it "
        "(e.g. with huggingface-cli download) and point the entry, or SOURCE, at the file."
    )
