"""Two runs, one results file: never a cell trained twice; each results file owns its run folders."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from axolotl_packing_bench.results.store import read_results
from tests.support.helpers import FAKE_TRAIN

from .conftest import invoke, one_sentence

FAKE = f"{shlex.quote(sys.executable)} {shlex.quote(str(FAKE_TRAIN))} {{config}}"


def matrix_text(name: str) -> str:
    return f"""\
name: {name}
base: {{sequence_len: 256, micro_batch_size: 2, num_epochs: 1, learning_rate: 1.0e-4}}
axes:
  model: [{{name: small, path: /models/small, size: 1B}}]
  dataset: [{{name: chats, size: 1K, datasets: [{{path: /data/chats.jsonl, ds_type: json, type: chat_template}}]}}]
  strategy: [padding, greedy]
"""


@pytest.fixture
def work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.yaml").write_text(matrix_text("quick"))
    (tmp_path / "b.yaml").write_text(matrix_text("other"))
    monkeypatch.setenv("FAKE_TRAIN_CALLS", str(tmp_path / "calls.txt"))
    monkeypatch.setenv("FAKE_TRAIN_PLAN", "{}")
    return tmp_path


def start(work: Path, *args: str, plan: dict | None = None) -> subprocess.Popen:
    env = {**os.environ, "FAKE_TRAIN_PLAN": json.dumps(plan or {}), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from axolotl_packing_bench.cli import main; main()",
            "run",
            "--train-command",
            FAKE,
            *args,
        ],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_training(work: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while not (work / "calls.txt").exists():
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            pytest.fail(f"the first run never started training: {process.communicate()[0]}")
        time.sleep(0.1)


@pytest.mark.parametrize(
    "second",
    [
        ("--matrix", "a.yaml", "--runs-dir", "elsewhere"),  # the advice the old refusal gave
        ("--matrix", "b.yaml"),  # another matrix, same results file
    ],
)
def test_a_second_run_into_the_same_results_file_is_refused(work, second):
    first = start(work, "--matrix", "a.yaml", plan={"*": "sleep:4"})
    try:
        wait_for_training(work, first)
        other = start(work, *second)
        output, _ = other.communicate(timeout=60)
        assert other.returncode == 2, output
        assert "is recording into leaderboard/results.jsonl" in output and "--results" in output
        assert "Traceback" not in output
    finally:
        output, _ = first.communicate(timeout=120)
    assert first.returncode == 0, output
    rows = read_results(work / "leaderboard/results.jsonl")
    assert sorted((r.matrix, r.axes["strategy"]) for r in rows) == [("quick", "greedy"), ("quick", "padding")]
    assert len((work / "calls.txt").read_text().splitlines()) == 2  # each cell trained once


def test_same_runs_dir_another_results_file_at_once_is_refused_with_the_safe_advice(work):
    first = start(work, "--matrix", "a.yaml", plan={"*": "sleep:4"})
    try:
        wait_for_training(work, first)
        other = start(work, "--matrix", "a.yaml", "--results", "b.jsonl", "--leaderboard", "B.md")
        output, _ = other.communicate(timeout=60)
        assert other.returncode == 2, output
        assert "for another results file" in output and "pass another --runs-dir" in output
    finally:
        first.communicate(timeout=120)
    assert not Path(work / "b.jsonl").exists() or not read_results(work / "b.jsonl")


class TestRunDirsBelongToOneResultsFile:
    def test_another_results_file_does_not_overwrite_the_first_ones_runs(self, work):
        assert invoke("run", "--matrix", "a.yaml", "--train-command", FAKE).exit_code == 0
        logs = {path: path.read_bytes() for path in Path("runs/quick").rglob("train.log")}
        result = invoke(
            "run", "--matrix", "a.yaml", "--train-command", FAKE, "--results", "b.jsonl", "--leaderboard", "B.md"
        )
        assert result.exit_code == 2
        line = one_sentence(result.output)
        assert "holds the runs of results file" in line and "pass another --runs-dir" in line
        assert {path: path.read_bytes() for path in Path("runs/quick").rglob("train.log")} == logs
        assert not Path("b.jsonl").exists()

        ok = invoke(
            "run",
            "--matrix",
            "a.yaml",
            "--train-command",
            FAKE,
            "--results",
            "b.jsonl",
            "--leaderboard",
            "B.md",
            "--runs-dir",
            "runs-b",
        )
        assert ok.exit_code == 0, ok.output
        assert {path: path.read_bytes() for path in Path("runs/quick").rglob("train.log")} == logs
        assert len(read_results("b.jsonl")) == 2

    def test_resuming_the_same_results_file_reuses_its_run_dirs(self, work, monkeypatch):
        monkeypatch.setenv("FAKE_TRAIN_PLAN", json.dumps({"greedy": "crash"}))
        assert invoke("run", "--matrix", "a.yaml", "--train-command", FAKE).exit_code == 1
        monkeypatch.setenv("FAKE_TRAIN_PLAN", "{}")
        again = invoke(
            "run",
            "--matrix",
            "a.yaml",
            "--train-command",
            FAKE,
            "--results",
            "./leaderboard/../leaderboard/results.jsonl",
        )
        assert again.exit_code == 0, again.output
        assert sorted(p.name.split("__")[2] for p in Path("runs/quick").iterdir() if p.is_dir()) == [
            "greedy",
            "padding",
        ]
