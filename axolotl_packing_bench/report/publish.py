"""Append to the results and re-render the board as one step: both happen, or neither.

`append_and_render` reads the results, builds the new line and renders the
board from the lines plus that line, all under the results file's append
lock; the board is staged (written and fsynced beside itself) before the
line is appended and put in place right after, still under the lock. So a
full disk or a permission error leaves the results file and the board
exactly as they were, and concurrent recorders put their boards in place in
the order of their appends (the last board holds every row).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from axolotl_packing_bench.core.fileio import StagedText, append_line_from
from axolotl_packing_bench.report.leaderboard import render_leaderboard
from axolotl_packing_bench.results.kinds import check_board_path, check_results_path
from axolotl_packing_bench.results.store import RunResult, results_from_lines


def append_and_render(
    results_path: str | Path,
    leaderboard_path: str | Path | None,
    build: Callable[[list[str]], str | None],
) -> str | None:
    """Append `build(lines)` to the results and re-render the board from them; nothing when `build` returns None.

    Raises:
        WrongKindOfFile: A path holds the other kind of file (checked before anything is written).
        UnwritableFile: A write failed; both files are as they were.
    """
    check_results_path(results_path)
    if leaderboard_path is not None:
        check_board_path(leaderboard_path)
    staged: list[StagedText] = []

    def build_and_stage(lines: list[str]) -> str | None:
        line = build(lines)
        if line is not None and leaderboard_path is not None:
            text = render_leaderboard(results_from_lines([*lines, line]), source=Path(results_path).name)
            staged.append(StagedText(leaderboard_path, text))
        return line

    try:
        return append_line_from(results_path, build_and_stage, after=lambda: staged[0].commit() if staged else None)
    finally:
        for stage in staged:
            stage.discard()


def record_result(result: RunResult, results_path: str | Path, leaderboard_path: str | Path | None) -> None:
    """Append `result` to the results and re-render the board (both or neither)."""
    append_and_render(results_path, leaderboard_path, lambda lines: result.to_json())
