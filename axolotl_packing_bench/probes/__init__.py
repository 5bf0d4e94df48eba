"""Probes of a trained model: how much it relies on context (`reliance`).

    >>> from axolotl_packing_bench.probes import run_reliance_probe
    >>> result = run_reliance_probe("runs/reliance/<cell>/output", "packbench://heldout?seed=0")
    >>> result["effects"]["reliance"]["answer_loss"]
    {'mean': 0.41, 'ci': [0.33, 0.49], 'ci_includes_zero': False}

Importing this package is cheap; torch loads only when a model does.

A matrix, `packbench probe run NAME` and the leaderboard find probes in
`axolotl_packing_bench.probes.registry`; `reliance_entry` registers this one.
A new probe is one module here ending with its `Probe` entry, plus one line
in `probes.registry.BUILTIN`.
"""

from __future__ import annotations

from axolotl_packing_bench.probes.reliance import (
    format_table,
    probe_model,
    run_reliance_probe,
)

__all__ = ["format_table", "probe_model", "run_reliance_probe"]
