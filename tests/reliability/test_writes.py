"""Writes that cannot half-happen: short writes, a full disk, a read-only disk, permissions kept."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
from pathlib import Path

import pytest

from axolotl_packing_bench.core import fileio
from axolotl_packing_bench.core.fileio import (
    UnwritableFile,
    append_line,
    append_line_from,
    atomic_write_text,
)
from tests.support.helpers import FAKE_TRAIN_COMMAND

from .conftest import invoke, one_sentence, snapshot


def short_writes(limit: int):
    """A `_write` that writes at most `limit` bytes per call (a legal short write)."""

    def write(fd: int, data: memoryview) -> int:
        return os.write(fd, data[:limit])

    return write


def full_after(budget: int):
    """A `_write` that writes `budget` bytes in all, then fails as a full disk does."""
    left = [budget]

    def write(fd: int, data: memoryview) -> int:
        if left[0] <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = os.write(fd, data[: left[0]])
        left[0] -= written
        return written

    return write


class TestFaultInjection:
    def test_short_writes_are_looped_to_a_whole_line(self, tmp_path, monkeypatch):
        path = tmp_path / "r.jsonl"
        monkeypatch.setattr(fileio, "_write", short_writes(3))
        append_line(path, "a line longer than three bytes")
        atomic_write_text(tmp_path / "b.md", "a board longer than three bytes\n")
        assert path.read_text() == "a line longer than three bytes\n"
        assert (tmp_path / "b.md").read_text() == "a board longer than three bytes\n"

    @pytest.mark.parametrize("budget", [0, 1, 17])
    def test_a_full_disk_mid_append_leaves_the_file_as_it_was(self, tmp_path, monkeypatch, budget):
        path = tmp_path / "r.jsonl"
        path.write_text('{"first": 1}\n{"torn')  # a torn line too: its repair is undone with the append
        before = path.read_bytes()
        monkeypatch.setattr(fileio, "_write", full_after(budget))
        with pytest.raises(UnwritableFile) as caught:
            append_line(path, '{"second": 2, "padding": "' + "x" * 100 + '"}')
        assert path.read_bytes() == before
        assert str(caught.value).startswith(f"cannot write {path} (no space left on device); it was left as it was")

    def test_a_write_of_nothing_is_a_full_disk_not_a_loop(self, tmp_path, monkeypatch):
        monkeypatch.setattr(fileio, "_write", lambda fd, data: 0)
        with pytest.raises(UnwritableFile, match="no space left"):
            append_line_from(tmp_path / "r.jsonl", lambda lines: "row")
        assert (tmp_path / "r.jsonl").read_bytes() == b""

    def test_a_failed_board_write_keeps_the_old_board_and_no_temp_file(self, tmp_path, monkeypatch):
        board = tmp_path / "LEADERBOARD.md"
        board.write_text("old board\n")
        monkeypatch.setattr(fileio, "_write", full_after(4))
        with pytest.raises(UnwritableFile):
            atomic_write_text(board, "new board, longer\n")
        assert board.read_text() == "old board\n" and [p.name for p in tmp_path.iterdir()] == ["LEADERBOARD.md"]

    def test_permission_denied_is_one_sentence_through_the_cli(self, results_file, board_file, hand_run, monkeypatch):
        before = snapshot(results_file, board_file)

        def denied(fd: int, data: memoryview) -> int:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

        monkeypatch.setattr(fileio, "_write", denied)
        result = invoke("record", hand_run, "--results", results_file, "--leaderboard", board_file)
        assert result.exit_code == 1
        line = one_sentence(result.output)
        assert str(board_file) in line and "permission denied" in line and "check its permissions" in line
        assert snapshot(results_file, board_file) == before


class TestPermissions:
    def test_a_replaced_board_keeps_its_mode(self, tmp_path):
        board = tmp_path / "LEADERBOARD.md"
        board.write_text("old\n")
        board.chmod(0o640)
        atomic_write_text(board, "new\n")
        assert stat.S_IMODE(board.stat().st_mode) == 0o640

    def test_a_new_file_gets_the_umask(self, tmp_path):
        old = os.umask(0o027)
        try:
            atomic_write_text(tmp_path / "new.md", "x\n")
        finally:
            os.umask(old)
        assert stat.S_IMODE((tmp_path / "new.md").stat().st_mode) == 0o640


@pytest.fixture
def tiny_disk(tmp_path):
    """A real 64 KiB tmpfs (skipped where mounting is not allowed); unmounted afterwards."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> None:
    """Use every free block of `disk`, so the next block any file needs is refused."""
    with open(disk / "filler", "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 512)
        except OSError as error:
            assert error.errno == errno.ENOSPC


class TestRealDisk:
    def test_record_and_leaderboard_on_a_full_disk(self, tiny_disk, results_file, hand_run):
        results, board = tiny_disk / "results.jsonl", tiny_disk / "LEADERBOARD.md"
        results.write_bytes(results_file.read_bytes())
        assert invoke("leaderboard", "--results", results, "--leaderboard", board).exit_code == 0
        fill(tiny_disk)
        before = snapshot(results, board)
        for args in (("record", hand_run), ("leaderboard",)):
            result = invoke(*args, "--results", results, "--leaderboard", board)
            assert result.exit_code == 1, result.output
            line = one_sentence(result.output)
            assert "no space left on device" in line and "free some space" in line
            assert snapshot(results, board) == before  # not one byte of a torn row
        assert sorted(p.name for p in tiny_disk.iterdir()) == ["LEADERBOARD.md", "filler", "results.jsonl"]

    def test_a_read_only_disk(self, tiny_disk, results_file, hand_run):
        results, board = tiny_disk / "results.jsonl", tiny_disk / "LEADERBOARD.md"
        results.write_bytes(results_file.read_bytes())
        assert invoke("leaderboard", "--results", results, "--leaderboard", board).exit_code == 0
        subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)], check=True)
        before = snapshot(results, board)
        result = invoke("record", hand_run, "--results", results, "--leaderboard", board)
        assert result.exit_code == 1
        assert "read-only file system" in one_sentence(result.output)
        assert snapshot(results, board) == before

    def test_run_with_a_read_only_runs_dir(self, tiny_disk, tmp_path):

        matrix = tmp_path / "m.yaml"
        matrix.write_text(QUICK_MATRIX)
        subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)], check=True)
        result = invoke(
            "run",
            "--matrix",
            matrix,
            "--train-command",
            FAKE_TRAIN_COMMAND,
            "--runs-dir",
            tiny_disk / "runs",
            "--results",
            tmp_path / "results.jsonl",
            "--leaderboard",
            tmp_path / "LEADERBOARD.md",
        )
        assert result.exit_code == 1
        line = one_sentence(result.output)
        assert "read-only file system" in line and str(tiny_disk / "runs") in line
        assert not (tmp_path / "results.jsonl").exists() or (tmp_path / "results.jsonl").read_bytes() == b""

    def test_run_into_a_read_only_folder(self, tiny_disk, tmp_path):

        matrix = tmp_path / "m.yaml"
        matrix.write_text(QUICK_MATRIX)
        subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)], check=True)
        result = invoke(
            "run",
            "--matrix",
            matrix,
            "--train-command",
            FAKE_TRAIN_COMMAND,
            "--runs-dir",
            tmp_path / "runs",
            "--results",
            tiny_disk / "results.jsonl",
            "--leaderboard",
            tiny_disk / "LEADERBOARD.md",
        )
        assert result.exit_code == 1
        line = one_sentence(result.output)
        assert "read-only file system" in line and str(tiny_disk) in line
        assert not (tmp_path / "runs").exists()


QUICK_MATRIX = """\
name: quick
base: {sequence_len: 256, micro_batch_size: 2, num_epochs: 1, learning_rate: 1.0e-4}
axes:
  model: [{name: small, path: /models/small, size: 1B}]
  dataset: [{name: chats, size: 1K, datasets: [{path: /data/chats.jsonl, ds_type: json, type: chat_template}]}]
  strategy: [padding, greedy, bfd]
"""


def test_run_on_a_full_disk_trains_nothing_it_could_not_record(tiny_disk, tmp_path, monkeypatch):
    """Not even a cell's claim fits beside the results: one sentence, exit 1, no cell trained."""

    matrix = tmp_path / "m.yaml"
    matrix.write_text(QUICK_MATRIX)
    monkeypatch.setenv("FAKE_TRAIN_CALLS", str(tmp_path / "calls.txt"))
    fill(tiny_disk)
    result = invoke(
        "run",
        "--matrix",
        matrix,
        "--train-command",
        FAKE_TRAIN_COMMAND,
        "--runs-dir",
        tmp_path / "runs",
        "--results",
        tiny_disk / "results.jsonl",
        "--leaderboard",
        tiny_disk / "LEADERBOARD.md",
    )
    assert result.exit_code == 1
    line = one_sentence(result.output)
    assert "no space left on device" in line and ".results.jsonl.claims" in line
    assert not (tmp_path / "calls.txt").exists()
    left = sorted(p.name for p in tiny_disk.iterdir() if p.name != ".results.jsonl.run.lock")  # the run's lock stays
    assert left == [".results.jsonl.claims", "filler"]  # no results file, no row
    assert list((tiny_disk / ".results.jsonl.claims").iterdir()) == []  # the claim that did not fit is gone


def test_run_stops_starting_cells_when_it_cannot_record(tmp_path, monkeypatch):
    """The first cell's result cannot be recorded: one sentence, exit 1, no further cell trained, no claim left."""

    from axolotl_packing_bench.core.fileio import UnwritableFile
    from axolotl_packing_bench.running import driver

    def full(self, result):
        raise UnwritableFile(self.results_path, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))

    monkeypatch.setattr(driver.Recorder, "__call__", full)
    matrix = tmp_path / "m.yaml"
    matrix.write_text(QUICK_MATRIX)
    monkeypatch.setenv("FAKE_TRAIN_CALLS", str(tmp_path / "calls.txt"))
    results = tmp_path / "results.jsonl"
    result = invoke("run", "--matrix", matrix, "--train-command", FAKE_TRAIN_COMMAND, "--runs-dir", tmp_path / "runs",
                    "--results", results, "--leaderboard", tmp_path / "LEADERBOARD.md")  # fmt: skip
    assert result.exit_code == 1
    assert "no space left on device" in one_sentence(result.output)
    assert len((tmp_path / "calls.txt").read_text().splitlines()) == 1
    assert not results.exists() and list((tmp_path / ".results.jsonl.claims").iterdir()) == []


@pytest.mark.parametrize("swap", ["results", "board"])
def test_a_slurm_task_refuses_the_wrong_kind_of_file_before_training(
    tmp_path, board_file, results_file, capsys, monkeypatch, swap
):
    from axolotl_packing_bench.running import task

    matrix = tmp_path / "m.yaml"
    matrix.write_text(QUICK_MATRIX)
    monkeypatch.setenv("FAKE_TRAIN_CALLS", str(tmp_path / "calls.txt"))
    before = snapshot(results_file, board_file)
    paths = (
        ["--results", board_file, "--leaderboard", tmp_path / "L.md"]
        if swap == "results"
        else ["--results", tmp_path / "r.jsonl", "--leaderboard", results_file]
    )
    assert (
        task.main(["--matrix", str(matrix), "--cell", "any", "--runs-dir", str(tmp_path / "runs"), *map(str, paths)])
        == 1
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("packbench: ") and "Traceback" not in err[0]
    assert snapshot(results_file, board_file) == before and not (tmp_path / "calls.txt").exists()
