"""Re-export of `axolotl_packing_bench.core.fileio` (its home), for existing imports."""

from __future__ import annotations

from axolotl_packing_bench.core.fileio import (
    UnreadableFile,
    append_line,
    append_line_from,
    atomic_write_text,
    locked,
    read_lines,
    read_user_text,
)

__all__ = [
    "UnreadableFile",
    "append_line",
    "append_line_from",
    "atomic_write_text",
    "locked",
    "read_lines",
    "read_user_text",
]
