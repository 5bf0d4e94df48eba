"""The ``!function`` target of the facts task YAMLs (lm-eval imports this file by path)."""

from axolotl_packing_bench.eval.facts import load

__all__ = ["load"]
