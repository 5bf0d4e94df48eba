"""The Axolotl plugin: `PackingBenchPlugin` (in `hooks`) and the pieces it runs.

Enable it in an Axolotl YAML:

    plugins:
      - axolotl_packing_bench.PackingBenchPlugin

The plugin class subclasses Axolotl's `BasePlugin`, so it is imported on first
use: the row builder, the collator and the varlen attention
(`plugin.rows`, `plugin.collator`, `plugin.segment_attention`) import with
torch and numpy alone, no Axolotl (`packbench doctor` runs where only torch
and transformers are installed).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["PLUGIN_PATH", "PackingBenchArgs", "PackingBenchPlugin"]


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        return importlib.import_module(f"{__name__}.{name}")  # a submodule, e.g. `relatedness`
    except ModuleNotFoundError as error:
        if error.name != f"{__name__}.{name}":
            raise
    return getattr(importlib.import_module(f"{__name__}.hooks"), name)
