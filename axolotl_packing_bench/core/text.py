"""Text a user reads: one-sentence messages, "did you mean" hints and short paths (one copy each)."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from pathlib import Path

from axolotl_packing_bench.core.redaction import REDACTED, redact

MAX_SENTENCE = 300
"""Characters a one-sentence message keeps by default (a result's `reason`, an eval error)."""


def one_line(text: object, *secrets: str | None) -> str:
    """`text` on one line, with `secrets` and anything key-like redacted."""
    message = " ".join(str(text).split())
    for secret in secrets:
        if secret:
            message = message.replace(secret, REDACTED)
    return redact(message) or ""


def one_sentence(text: object, *secrets: str | None, limit: int = MAX_SENTENCE, period: bool = False) -> str:
    """`one_line` text cut to `limit` characters (an ellipsis marks the cut).

    With `period` the message ends with exactly one period (as the CLI and the
    eval reports print errors); without it the text keeps its own ending (a
    result's `reason`, usually a log line).
    """
    message = one_line(text, *secrets)
    if not period:
        return message if len(message) <= limit else message[: limit - 1] + "…"
    message = message.rstrip(" .")
    if len(message) > limit:
        message = message[: limit - 1].rstrip() + "…"
    return message + "."


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the closest choice, or "" when none is close."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def shown_path(path: str | Path) -> str:
    """`path` relative to the working directory when inside it, else as given (POSIX separators)."""
    path = Path(path)
    try:
        relative = Path(os.path.relpath(path)).as_posix()
    except ValueError:  # another drive on Windows
        return path.as_posix()
    return path.as_posix() if relative.startswith("..") else relative
