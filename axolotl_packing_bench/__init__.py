"""Padding or packing, and which packing? A companion to the Axolotl trainer.

The packing library (`axolotl_packing_bench.packing`) needs only numpy and
numba. The Axolotl plugin is imported lazily, so `import axolotl_packing_bench`
never pulls in torch or Axolotl:

    plugins:
      - axolotl_packing_bench.PackingBenchPlugin
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["PackingBenchPlugin", "__version__"]


def __getattr__(name: str):
    if name == "PackingBenchPlugin":
        from axolotl_packing_bench.plugin import PackingBenchPlugin

        return PackingBenchPlugin
    raise AttributeError(f"module 'axolotl_packing_bench' has no attribute {name!r}")
