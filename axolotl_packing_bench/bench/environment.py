"""Re-export of `axolotl_packing_bench.core.environment` (its home), for existing imports."""

from __future__ import annotations

from axolotl_packing_bench.core.environment import (
    collect_hardware,
    collect_versions,
    describe_hardware,
    describe_versions,
)

__all__ = ["collect_hardware", "collect_versions", "describe_hardware", "describe_versions"]
