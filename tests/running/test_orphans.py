"""No orphans: after `kill -9` of `packbench run`, no process of a running cell is left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
FAKE = f"{sys.executable} {ROOT / 'tests/support/fake_train.py'} {{config}}"
MATRIX = """\
name: orphans
base: {sequence_len: 256, micro_batch_size: 2, num_epochs: 1, learning_rate: 1.0e-4}
axes:
  model: [{name: small, path: /models/small, size: 1B}]
  dataset: [{name: chats, size: 1K, datasets: [{path: /data/chats.jsonl, ds_type: json, type: chat_template}]}]
  strategy: [padding, greedy]
"""


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as gone: it runs nothing)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.parametrize("path", ["warm", "isolated"])
def test_kill_9_of_the_runner_leaves_no_cell_process(tmp_path, path):
    (tmp_path / "m.yaml").write_text(MATRIX)
    calls = tmp_path / "calls.txt"
    env = {
        **os.environ,
        "FAKE_TRAIN_PLAN": json.dumps({"*": "sleep:120"}),
        "FAKE_TRAIN_CALLS": str(calls),
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
    }
    how = ["--train-entry", "tests.support.fake_train:run"] if path == "warm" else ["--train-command", FAKE]
    runner = subprocess.Popen(
        [sys.executable, "-m", "axolotl_packing_bench.cli", "run", "--matrix", "m.yaml", "--jobs", "2", *how],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not calls.exists() or len(calls.read_text().splitlines()) < 2):
        time.sleep(0.2)
    cells = [int(line.split()[1]) for line in calls.read_text().splitlines()] if calls.exists() else []
    tree = _descendants(runner.pid)
    assert len(cells) == 2 and set(cells) <= tree, "both cells should be training under the runner"
    runner.send_signal(signal.SIGKILL)
    runner.wait(timeout=10)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(pid) for pid in tree):
        time.sleep(0.1)
    assert [pid for pid in tree if _alive(pid)] == []


def test_sigterm_to_the_runners_group_stops_cleanly_on_the_warm_path(tmp_path):
    """As `timeout` or a terminal does: the whole group gets the signal; running cells are stopped, not recorded."""
    (tmp_path / "m.yaml").write_text(MATRIX)
    calls = tmp_path / "calls.txt"
    env = {
        **os.environ,
        "FAKE_TRAIN_PLAN": json.dumps({"greedy": "sleep:120"}),
        "FAKE_TRAIN_CALLS": str(calls),
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
    }
    runner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "axolotl_packing_bench.cli",
            "run",
            "--matrix",
            "m.yaml",
            "--train-entry",
            "tests.support.fake_train:run",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (calls.exists() and "greedy" in calls.read_text()):
        time.sleep(0.2)
    time.sleep(0.5)
    os.killpg(runner.pid, signal.SIGTERM)
    output, _ = runner.communicate(timeout=60)
    assert runner.returncode == 128 + signal.SIGTERM, output
    lines = (tmp_path / "leaderboard/results.jsonl").read_text().splitlines()
    assert len(lines) == 1 and '"padding"' in lines[0] and '"status":"ok"' in lines[0]
    sleeper = int([line for line in calls.read_text().splitlines() if line.startswith("greedy")][0].split()[1])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(sleeper):
        time.sleep(0.1)
    assert not _alive(sleeper)
