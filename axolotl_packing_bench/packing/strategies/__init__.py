"""Built-in packing strategies; importing this package registers them.

One module per strategy. To add one, write a function as described in
`axolotl_packing_bench.packing.registry` and decorate it with
`register_strategy`; built-ins are imported here.
"""

from __future__ import annotations

from axolotl_packing_bench.packing.strategies import (  # noqa: F401  (registers)
    bfd,
    greedy,
    padding,
    random_cut,
    related,
    sequential,
    single_turn,
    unrelated,
)
