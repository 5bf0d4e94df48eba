"""What is already at a path packbench is about to write: a results file, a board, or something else.

Every writer of a results file (`results.store.append_result`, the eval
store) calls `check_results_path` and every writer of a board
(`report.leaderboard.render_to`, `packbench leaderboard`) calls
`check_board_path` before touching the file, so a swapped flag or a
mistyped path is refused with one `WrongKindOfFile` sentence instead of
overwriting a results file with markdown (or a board with JSONL). A path
that does not exist yet, or an empty file, may become either.

Only the head of a file is read (`HEAD_BYTES`), so checking before every
append stays cheap on a large results file.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

HEAD_BYTES = 1 << 20
BOARD_MARKERS = ("# Packing leaderboard", "Rendered by `packbench leaderboard")
"""Text every rendered board starts with (its title) or carries in its header line."""


class WrongKindOfFile(ValueError):
    """A path that holds something other than what is about to be written there; one sentence with the fix."""


def _head(path: Path, what: str, flag: str) -> bytes | None:
    """The first bytes of `path` (None when it does not exist); a directory or non-regular file is refused."""
    try:
        info = os.stat(path)  # through a symlink: what it points at is what would be written
    except FileNotFoundError:
        return None
    except OSError as error:
        raise WrongKindOfFile(
            f"{path} cannot be checked before writing ({error.strerror}); pass another {flag}."
        ) from None
    if stat.S_ISDIR(info.st_mode):
        raise WrongKindOfFile(f"{path} is a directory, not a {what}; pass a file path to {flag}.")
    if not stat.S_ISREG(info.st_mode):
        raise WrongKindOfFile(
            f"{path} is not a regular file (a FIFO, socket or device), not a {what}; pass a file path to {flag}."
        )
    try:
        with open(path, "rb") as handle:
            return handle.read(HEAD_BYTES)
    except OSError as error:
        raise WrongKindOfFile(
            f"{path} cannot be read ({error.strerror}); check its permissions or pass another {flag}."
        ) from None


def looks_like_board(head: bytes) -> bool:
    """Whether `head` (a file's first bytes) is a board packbench rendered."""
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    return text.startswith(BOARD_MARKERS[0]) or BOARD_MARKERS[1] in text[:4096]


def _is_results_row(line: str) -> bool:
    try:
        data = json.loads(line)
    except ValueError:
        return False
    return isinstance(data, dict) and "schema_version" in data and "run_id" in data


def looks_like_results(head: bytes) -> bool:
    """Whether `head` holds at least one results row among its complete lines (a torn line aside)."""
    lines = head.split(b"\n")
    if len(head) == HEAD_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the head ends mid-line
    for raw in lines:
        line = raw.decode("utf-8", errors="replace").strip()
        if line and _is_results_row(line):
            return True
    return False


def check_results_path(path: str | Path, *, flag: str = "--results") -> None:
    """Refuse to write results to `path` unless it is missing, empty or a results JSONL file.

    Raises:
        WrongKindOfFile: A board, a directory, a FIFO, or content with no results row.
    """
    target = Path(path)
    head = _head(target, "results file", flag)
    if head is None or not head.strip():
        return
    if looks_like_board(head):
        raise WrongKindOfFile(
            f"{target} is a packbench leaderboard, not a results file; pass the results.jsonl to {flag} "
            "(the board goes to --leaderboard)."
        )
    if not looks_like_results(head):
        raise WrongKindOfFile(
            f"{target} holds no readable results row (it is not results JSONL), so packbench will not write to it; "
            f"pass the results.jsonl written by `packbench run` to {flag}."
        )


def check_board_path(path: str | Path, *, flag: str = "--leaderboard") -> None:
    """Refuse to render a board over `path` unless it is missing, empty or a board packbench rendered.

    Raises:
        WrongKindOfFile: A results file, a directory, a FIFO, or any other content.
    """
    target = Path(path)
    head = _head(target, "leaderboard", flag)
    if head is None or not head.strip() or looks_like_board(head):
        return
    if looks_like_results(head):
        raise WrongKindOfFile(
            f"{target} is a results file, not a leaderboard; pass the LEADERBOARD.md path to {flag} "
            "(the results go to --results)."
        )
    raise WrongKindOfFile(
        f"{target} is not a leaderboard packbench rendered, so packbench will not overwrite it; "
        f"pass a new or existing LEADERBOARD.md path to {flag}."
    )


def check_has_rows(path: str | Path, rows: int, *, flag: str = "--results") -> None:
    """A results file with content but no readable row is an error, not an empty board.

    Raises:
        WrongKindOfFile: `path` has non-blank content and `rows` is 0.
    """
    if rows:
        return
    target = Path(path)
    head = _head(target, "results file", flag)
    if head is not None and head.strip():
        if looks_like_board(head):
            check_results_path(target, flag=flag)
        raise WrongKindOfFile(
            f"{target} has content but no readable results row; "
            f"pass the results.jsonl written by `packbench run` to {flag}, or repair its lines."
        )
