"""Two runs, one results file: never a cell trained twice (run lock, per-cell claims); each owns its run folders."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from axolotl_packing_bench.matrix.spec import expand, load_matrix
from axolotl_packing_bench.results.claims import claim_path, claims_dir
from axolotl_packing_bench.results.store import read_results
from axolotl_packing_bench.running import task
from tests.support.helpers import FAKE_TRAIN_COMMAND as FAKE

from .conftest import invoke, one_sentence


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


def cell_id(work: Path, strategy: str) -> str:
    return next(cell.cell_id for cell in expand(load_matrix(work / "a.yaml")) if cell.axes["strategy"] == strategy)


def hold_claim(work: Path, strategy: str, pid: int) -> Path:
    """A claim on the `strategy` cell of a.yaml as another run of this host (process `pid`) would leave it."""
    path = claim_path(work / "leaderboard/results.jsonl", cell_id(work, strategy), 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{socket.gethostname()} {pid} 2026-01-01T00:00:00+00:00\n")
    return path


def claim_files(work: Path) -> list[str]:
    folder = claims_dir(work / "leaderboard/results.jsonl")
    return sorted(path.name for path in folder.glob("*#*")) if folder.exists() else []


def trained(work: Path) -> list[str]:
    calls = work / "calls.txt"
    return sorted(line.split()[0] for line in calls.read_text().splitlines()) if calls.exists() else []


@pytest.fixture
def other_run():
    """A live process of this host standing for another run."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process.pid
    process.kill()
    process.wait()


class TestPerCellClaims:
    def test_a_slurm_task_leaves_a_cell_a_live_local_run_claimed_and_trains_nothing(self, work, capsys):
        hold_claim(work, "greedy", os.getpid())
        common = ["--matrix", str(work / "a.yaml"), "--results", str(work / "leaderboard/results.jsonl")]
        code = task.main([*common, "--train-command", FAKE, "--cell", cell_id(work, "greedy")])
        assert code == 0
        assert f"is claimed by pid {os.getpid()} on {socket.gethostname()}" in capsys.readouterr().out
        assert trained(work) == [] and not (work / "leaderboard/results.jsonl").exists()
        assert claim_files(work) == [f"{cell_id(work, 'greedy')}#0"]  # the holder's claim is left alone

        assert task.main([*common, "--train-command", FAKE, "--cell", cell_id(work, "padding")]) == 0
        assert trained(work) == ["padding"] and claim_files(work) == [f"{cell_id(work, 'greedy')}#0"]

    def test_a_run_skips_a_cell_another_live_run_holds_and_trains_it_once_released(self, work, other_run):
        claimed = hold_claim(work, "greedy", other_run)
        result = invoke("run", "--matrix", "a.yaml", "--train-command", FAKE)
        assert result.exit_code == 0, result.output
        assert f"skipped {cell_id(work, 'greedy')}: claimed by pid {other_run}" in result.output
        assert "1 ok, 0 failed, 1 skipped" in result.output
        assert trained(work) == ["padding"]
        assert [r.axes["strategy"] for r in read_results(work / "leaderboard/results.jsonl")] == ["padding"]
        assert claim_files(work) == [claimed.name]  # ours released, theirs kept

        claimed.unlink()  # the other run is done with it
        again = invoke("run", "--matrix", "a.yaml", "--train-command", FAKE)
        assert again.exit_code == 0, again.output
        assert trained(work) == ["greedy", "padding"] and claim_files(work) == []

    def test_a_stale_claim_of_a_dead_process_of_this_host_is_taken_over(self, work):
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        hold_claim(work, "greedy", dead.pid)
        result = invoke("run", "--matrix", "a.yaml", "--train-command", FAKE)
        assert result.exit_code == 0, result.output
        assert trained(work) == ["greedy", "padding"] and claim_files(work) == []

    def test_claims_are_released_after_a_crashing_cell_and_a_stopped_run(self, work, monkeypatch):
        monkeypatch.setenv("FAKE_TRAIN_PLAN", json.dumps({"greedy": "crash"}))
        assert invoke("run", "--matrix", "a.yaml", "--train-command", FAKE).exit_code == 1
        assert claim_files(work) == []

        run = start(work, "--matrix", "a.yaml", "--fresh", plan={"*": "sleep:30"})
        try:
            deadline = time.monotonic() + 60
            while not claim_files(work) and time.monotonic() < deadline and run.poll() is None:
                time.sleep(0.1)
            assert claim_files(work), "the run never claimed a cell"
        finally:
            run.send_signal(2)
            run.communicate(timeout=60)
        assert claim_files(work) == []

    def test_a_slurm_task_stopped_by_scancel_releases_its_claim_and_records_nothing(self, work):
        env = {**os.environ, "FAKE_TRAIN_PLAN": json.dumps({"*": "sleep:30"})}
        argv = [sys.executable, "-m", "axolotl_packing_bench.running.task", "--matrix", "a.yaml",
                "--train-command", FAKE, "--cell", cell_id(work, "greedy")]  # fmt: skip
        process = subprocess.Popen(argv, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            wait_for_training(work, process)
            assert claim_files(work) == [f"{cell_id(work, 'greedy')}#0"]
        finally:
            process.terminate()
            output, _ = process.communicate(timeout=60)
        assert process.returncode == 1 and "stopped by a signal; nothing recorded" in output, output
        assert claim_files(work) == [] and not (work / "leaderboard/results.jsonl").exists()

    def test_a_cell_another_run_recorded_while_this_one_waited_is_not_trained_again(self, work):
        first = start(work, "--matrix", "a.yaml", plan={"padding": "sleep:3"})
        wait_for_training(work, first)
        # meanwhile a Slurm task trains and records the greedy cell, then releases its claim
        common = ["--matrix", str(work / "a.yaml"), "--results", str(work / "leaderboard/results.jsonl")]
        assert task.main([*common, "--train-command", FAKE, "--cell", cell_id(work, "greedy")]) == 0
        output, _ = first.communicate(timeout=120)
        assert first.returncode == 0, output
        assert trained(work) == ["greedy", "padding"], output
        assert "another run recorded it while this one ran" in output
        assert claim_files(work) == []
