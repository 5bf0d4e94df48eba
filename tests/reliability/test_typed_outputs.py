"""A flag pointing at the wrong kind of file is refused in one sentence and the file is left as it was."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from axolotl_packing_bench.report.leaderboard import render_leaderboard, render_to
from axolotl_packing_bench.results.kinds import (
    WrongKindOfFile,
    check_board_path,
    check_results_path,
    looks_like_board,
)
from axolotl_packing_bench.results.store import RunResult, append_result

from .conftest import invoke, one_sentence, snapshot


def test_every_rendered_board_is_recognised_as_one():
    """The sniffing follows the renderer: an empty board and a full one both carry the header."""
    assert looks_like_board(render_leaderboard([]).encode())
    golden = Path(__file__).parents[1] / "support" / "golden" / "LEADERBOARD.md"
    assert looks_like_board(golden.read_bytes())


class TestSwappedFlags:
    def test_record_with_results_and_board_swapped(self, results_file, board_file, hand_run):
        before = snapshot(results_file, board_file)
        result = invoke("record", hand_run, "--results", board_file, "--leaderboard", results_file)
        assert result.exit_code != 0
        assert "is a packbench leaderboard, not a results file" in one_sentence(result.output)
        assert snapshot(results_file, board_file) == before

    def test_leaderboard_with_results_and_board_swapped(self, results_file, board_file):
        before = snapshot(results_file, board_file)
        result = invoke("leaderboard", "--results", board_file, "--leaderboard", results_file)
        assert result.exit_code != 0
        assert str(board_file) in one_sentence(result.output)
        assert snapshot(results_file, board_file) == before

    def test_board_path_naming_the_results_file(self, results_file, board_file):
        """Only the board flag wrong: the results file would be overwritten with markdown."""
        before = snapshot(results_file)
        result = invoke("leaderboard", "--results", results_file, "--leaderboard", results_file)
        assert result.exit_code != 0
        assert "is a results file, not a leaderboard" in one_sentence(result.output)
        assert snapshot(results_file) == before

    def test_run_refuses_a_board_as_results_before_training(self, hand_matrix, board_file, tmp_path):
        before = snapshot(board_file)
        result = invoke(
            "run",
            "--matrix",
            hand_matrix,
            "--results",
            board_file,
            "--leaderboard",
            tmp_path / "L.md",
            "--runs-dir",
            tmp_path / "runs",
        )
        assert result.exit_code != 0
        assert "not a results file" in one_sentence(result.output)
        assert snapshot(board_file) == before and not (tmp_path / "runs").exists()


class TestForeignContent:
    @pytest.mark.parametrize("content", [os.urandom(512), b"# my notes\n\nnot a board\n", b'{"a": 1}\n[1, 2]\n'])
    def test_results_without_a_readable_row_is_an_error_not_an_empty_board(self, tmp_path, board_file, content):
        results = tmp_path / "garbage.jsonl"
        results.write_bytes(content)
        before = snapshot(results, board_file)
        result = invoke("leaderboard", "--results", results, "--leaderboard", board_file)
        assert result.exit_code != 0
        assert str(results) in one_sentence(result.output)
        assert snapshot(results, board_file) == before

    def test_a_hand_written_markdown_file_is_never_replaced_by_a_board(self, results_file, tmp_path):
        notes = tmp_path / "NOTES.md"
        notes.write_text("# My notes\n\nkeep me\n")
        result = invoke("leaderboard", "--results", results_file, "--leaderboard", notes)
        assert result.exit_code != 0
        assert "not a leaderboard packbench rendered" in one_sentence(result.output)
        assert notes.read_text() == "# My notes\n\nkeep me\n"

    def test_blank_and_missing_paths_may_become_either(self, tmp_path):
        (tmp_path / "blank").write_text("\n\n")
        for path in (tmp_path / "blank", tmp_path / "missing"):
            check_results_path(path)
            check_board_path(path)


class TestHostilePaths:
    def test_a_directory_where_a_file_is_expected(self, tmp_path, results_file):
        folder = tmp_path / "dir.md"
        folder.mkdir()
        result = invoke("leaderboard", "--results", results_file, "--leaderboard", folder)
        assert result.exit_code != 0 and "Traceback" not in result.output
        with pytest.raises(WrongKindOfFile, match="is a directory"):
            check_board_path(folder)

    def test_a_results_path_that_is_a_symlink_to_a_board(self, tmp_path, results_file, board_file, hand_run):
        link = tmp_path / "link.jsonl"
        link.symlink_to(board_file)
        before = snapshot(board_file)
        result = invoke("record", hand_run, "--results", link, "--leaderboard", tmp_path / "new.md")
        assert result.exit_code != 0 and "leaderboard" in one_sentence(result.output)
        assert snapshot(board_file) == before and link.is_symlink()

    def test_a_board_reached_through_a_symlink_stays_a_symlink(self, tmp_path, results_file, board_file):
        link = tmp_path / "board-link.md"
        link.symlink_to(board_file)
        render_to(results_file, link)
        assert link.is_symlink() and board_file.read_text().startswith("# Packing leaderboard")

    def test_a_fifo_as_the_results_file(self, tmp_path):
        fifo = tmp_path / "results.jsonl"
        os.mkfifo(fifo)
        with pytest.raises(WrongKindOfFile, match="not a regular file"):
            check_results_path(fifo)  # never opened: opening a FIFO would block

    def test_append_to_a_board_is_refused_at_the_store(self, board_file):
        before = snapshot(board_file)
        row = RunResult(run_id="x", cell_id="c", matrix="m", status="ok")
        with pytest.raises(WrongKindOfFile):
            append_result(board_file, row)
        assert snapshot(board_file) == before
