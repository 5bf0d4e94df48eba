"""Promises that already held, kept from regressing.

Concurrent writers, signals mid-cell, secrets, hostile names, torn lines.

Fuller versions live beside the code they cover (tests/results/test_store.py,
tests/eval/test_store.py, tests/cli/test_run.py, tests/running/test_orphans.py,
tests/cli/test_judge.py, tests/matrix/test_spec.py); these are the fastest
representatives, each class with two inputs or more.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from axolotl_packing_bench.results.store import RunResult, append_result, read_results
from tests.support.helpers import FAKE_TRAIN_COMMAND as FAKE

from .conftest import invoke, one_sentence

MATRIX = """\
name: {name}
base: {{sequence_len: 256, micro_batch_size: 2, num_epochs: 1, learning_rate: 1.0e-4}}
axes:
  model: [{{name: {model}, path: /models/small, size: 1B}}]
  dataset: [{{name: chats, size: 1K, datasets: [{{path: /data/chats.jsonl, ds_type: json, type: chat_template}}]}}]
  strategy: [padding, greedy]
"""


def write_matrix(folder: Path, name: str = "quick", model: str = "small") -> Path:
    path = folder / "m.yaml"
    path.write_text(MATRIX.format(name=name, model=model))
    return path


class TestConcurrentWriters:
    @pytest.mark.parametrize("through", ["store", "publish"])
    def test_concurrent_recorders_lose_no_row(self, tmp_path, through):
        """Three processes record at once: every row is kept, and with the board the last board holds them all."""
        results, board = tmp_path / "results.jsonl", tmp_path / "LEADERBOARD.md"
        call = (
            f"append_result({str(results)!r}, row)"
            if through == "store"
            else f"record_result(row, {str(results)!r}, {str(board)!r})"
        )
        script = textwrap.dedent(
            f"""
            import sys
            from axolotl_packing_bench.results.store import RunResult, append_result
            from axolotl_packing_bench.report.publish import record_result
            for i in range(15):
                row = RunResult(run_id=f"{{sys.argv[1]}}-{{i}}", cell_id=f"c{{sys.argv[1]}}-{{i}}", """
            f"""\
matrix="m", status="ok",
                                axes={{"model": "x", "dataset": "d", "strategy": "bfd"}}, metrics={{"pad": "x" * 2000}})
                {call}
        """
        )
        workers = [subprocess.Popen([sys.executable, "-c", script, str(n)]) for n in range(3)]
        assert all(worker.wait(timeout=180) == 0 for worker in workers)
        assert len(read_results(results)) == 45 and len(results.read_text().splitlines()) == 45
        if through == "publish":
            assert "(45 runs," in board.read_text()
            assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def start_run(folder: Path, plan: dict) -> subprocess.Popen:
    env = {
        **os.environ,
        "FAKE_TRAIN_PLAN": json.dumps(plan),
        "FAKE_TRAIN_CALLS": str(folder / "calls.txt"),
        "PYTHONUNBUFFERED": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "axolotl_packing_bench.cli", "run", "--matrix", "m.yaml", "--train-command", FAKE],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_cell_keeps_finished_results_and_leaves_no_process(tmp_path, sig):
    write_matrix(tmp_path)
    runner = start_run(tmp_path, {"greedy": "sleep:120"})
    calls = tmp_path / "calls.txt"
    deadline = time.monotonic() + 60
    while not (calls.exists() and "greedy" in calls.read_text()):
        if time.monotonic() > deadline or runner.poll() is not None:
            runner.kill()
            pytest.fail(f"the run never reached the sleeping cell: {runner.communicate()[0]}")
        time.sleep(0.1)
    time.sleep(0.3)
    runner.send_signal(sig)
    output, _ = runner.communicate(timeout=60)
    assert runner.returncode == 128 + sig, output
    lines = (tmp_path / "leaderboard/results.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["axes"]["strategy"] == "padding"
    sleeper = int(next(line for line in calls.read_text().splitlines() if line.startswith("greedy")).split()[1])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(sleeper, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the cell's training process outlived the run")
    assert [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp") or p.name == ".running"] == []


@pytest.mark.parametrize(
    "said",
    ["RuntimeError: request refused with api_key=$PLANTED", "OSError: 401 Client Error for token $PLANTED_HF"],
)
def test_a_secret_a_failed_cell_prints_reaches_no_results_and_no_board(tmp_path, monkeypatch, said):
    monkeypatch.chdir(tmp_path)
    planted, planted_hf = "sk-" + "q7" * 16, "hf_" + "Zx9" * 9
    monkeypatch.setenv("PLANTED", planted)
    monkeypatch.setenv("PLANTED_HF", planted_hf)
    write_matrix(tmp_path)
    script = 'echo "' + said + '"; exit 1'
    command = f"sh -c {shlex.quote(script)} {{config}}"
    result = invoke("run", "--matrix", "m.yaml", "--train-command", command)
    assert result.exit_code == 1
    written = Path("leaderboard/results.jsonl").read_text() + Path("leaderboard/LEADERBOARD.md").read_text()
    assert "[REDACTED]" in written
    assert planted not in written and planted_hf not in written and planted not in result.output


@pytest.mark.parametrize(("name", "model"), [("../escape", "small"), ("quick", "$(touch pwned)"), ("a/b", "small")])
def test_hostile_names_are_refused_before_anything_is_written(tmp_path, monkeypatch, name, model):
    monkeypatch.chdir(tmp_path)
    write_matrix(tmp_path, json.dumps(name), json.dumps(model))
    result = invoke("run", "--matrix", "m.yaml", "--train-command", FAKE)
    assert result.exit_code == 2 and "is not a plain name" in result.output and "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.yaml"]


class TestTornLines:
    def row(self, run_id: str) -> RunResult:
        return RunResult(
            run_id=run_id,
            cell_id=f"c-{run_id}",
            matrix="m",
            status="ok",
            axes={"model": "x", "dataset": "d", "strategy": "padding"},
        )

    @pytest.mark.parametrize("damage", [b'{"schema_version": 1, "run_id": "tor', b"\x00\xff\xfe garbage \x80"])
    def test_a_damaged_line_is_skipped_and_the_next_append_starts_clean(self, tmp_path, capsys, damage):
        path = tmp_path / "results.jsonl"
        append_result(path, self.row("a"))
        with open(path, "ab") as handle:
            handle.write(damage)  # a writer died mid-line, or a disk wrote junk
        append_result(path, self.row("b"))
        assert [r.run_id for r in read_results(path)] == ["a", "b"]
        assert "skipped 1 unreadable line" in capsys.readouterr().err
        board = tmp_path / "L.md"
        result = invoke("leaderboard", "--results", path, "--leaderboard", board)
        assert result.exit_code == 0 and "(2 runs," in board.read_text()

    def test_only_damaged_lines_is_an_error_not_an_empty_board(self, tmp_path):
        path = tmp_path / "results.jsonl"
        path.write_bytes(b'{"schema_version": 1, "run_id": "tor\n\x00\xff\n')
        result = invoke("leaderboard", "--results", path, "--leaderboard", tmp_path / "L.md")
        assert result.exit_code == 2 and "no readable results row" in one_sentence(result.output)
        assert not (tmp_path / "L.md").exists()
