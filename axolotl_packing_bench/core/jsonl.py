"""A user's JSONL file, line by line, with one sentence for a file or a line that cannot be read.

Every reader of a user's JSONL (prompt sets, chat datasets for `stats`,
`validate` and the plugin, probe questions) goes through here, so each says
the same thing about the same file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from axolotl_packing_bench.core.fileio import UnreadableFile, read_user_text


def user_text(path: str | Path, *, error: type[Exception]) -> str:
    """The UTF-8 text of a file the user named.

    Raises:
        error: "<path> is not UTF-8 text (byte 0xe9 at offset 9); save it as UTF-8." (or missing, a directory...)
    """
    try:
        return read_user_text(path)
    except UnreadableFile as unreadable:
        raise error(f"{unreadable}.") from None


def jsonl_rows(lines: Iterable[str], *, where: str, error: type[Exception]) -> Iterator[tuple[int, Any]]:
    """`(line number, parsed value)` of each non-blank line, numbered from 1.

    Raises:
        error: "line N of <where> is not valid JSON (...); write one JSON object per line."
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as decode_error:
            raise error(
                f"line {number} of {where} is not valid JSON ({decode_error.msg}); write one JSON object per line."
            ) from None
        yield number, row


def jsonl_file_rows(path: str | Path, *, error: type[Exception], where: str | None = None) -> list[tuple[int, Any]]:
    """`(line number, value)` of each non-blank line of a JSONL file (`user_text`, then `jsonl_rows`)."""
    text = user_text(path, error=error)
    # split on "\n" only: str.splitlines would also cut at U+2028 inside a JSON string
    return list(jsonl_rows(text.split("\n"), where=where or str(path), error=error))
