"""The rows of a user's JSONL file, with one sentence naming the line that is not JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any


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
