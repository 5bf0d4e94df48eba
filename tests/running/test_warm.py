"""Warm cell workers: each cell a child forked from one pre-imported worker, failures isolated."""

from __future__ import annotations

import json
import os
import signal
import sys

import pytest

from axolotl_packing_bench.matrix.spec import expand, load_matrix
from axolotl_packing_bench.results.store import read_results
from axolotl_packing_bench.running.runner import Progress, child_env, plan_cells
from tests.running.conftest import run_local

FOUR = """\
name: four
base: {sequence_len: 256, micro_batch_size: 2, num_epochs: 1, learning_rate: 1.0e-4}
axes:
  model: [{name: small, path: /models/small, size: 1B}]
  dataset: [{name: chats, size: 1K, datasets: [{path: /data/chats.jsonl, ds_type: json, type: chat_template}]}]
  strategy: [padding, greedy, bfd, random]
"""

STATE_OUT = "WARM_STATE_OUT"


def record_state(config: str) -> int:
    """A train entry that writes what the forked child sees, to check it starts clean."""
    import random

    print(f"child of {os.getppid()} training {config}", flush=True)
    state = {
        "argv": sys.argv,
        "cwd": os.getcwd(),
        "pid": os.getpid(),
        "own_group": os.getpgrp() == os.getpid(),
        "own_session": os.getsid(0) == os.getpid(),
        "env": os.environ.get("WARM_MARK"),
        "sigint_default": signal.getsignal(signal.SIGINT) is signal.default_int_handler,
        "sigterm_default": signal.getsignal(signal.SIGTERM) == signal.SIG_DFL,
        "random": random.random(),
    }
    with open(os.environ[STATE_OUT], "a") as handle:
        handle.write(json.dumps(state) + "\n")
    return 0


def identity(uri: str) -> str:
    return uri


@pytest.fixture
def four(write_matrix):
    return expand(load_matrix(write_matrix(FOUR, "four.yaml")))


def env_for(tmp_path, plan: dict[str, str], **extra: str) -> dict[str, str]:
    env = child_env()
    env.update(FAKE_TRAIN_PLAN=json.dumps(plan), FAKE_TRAIN_CALLS=str(tmp_path / "calls.txt"), **extra)
    return env


def quiet(total: int) -> Progress:
    return Progress(total=total, stream=open(os.devnull, "w"))


def test_raise_hang_and_signal_fail_their_cells_only(four, tmp_path):
    results = tmp_path / "results.jsonl"
    plans = plan_cells(four, [], runs_dir=tmp_path / "runs")
    env = env_for(tmp_path, {"greedy": "raise", "bfd": "sleep:120", "random": "kill:SIGKILL"})
    summary = run_local(
        plans,
        results_path=results,
        leaderboard_path=None,
        train_entry="tests.support.fake_train:run",
        resolve=identity,
        env=env,
        timeout=3.0,
        jobs=2,
        progress=quiet(4),
        runs_dir=tmp_path / "runs",
    )
    rows = {row.axes["strategy"]: row for row in read_results(results)}
    assert len(summary.results) == 4 and summary.not_run == 0
    assert rows["padding"].ok and rows["padding"].metric("runner", "worker") == "warm"
    assert (
        rows["padding"].metric("runner", "warm_start_s") >= 0 and rows["padding"].metric("runner", "cpu_s") is not None
    )
    assert rows["greedy"].status == "failed"
    assert rows["greedy"].reason == "training exited with status 1: RuntimeError: raised in greedy"
    assert rows["bfd"].status == "timeout" and rows["bfd"].reason.startswith(
        "timed out after 3s; last log line: fake train of"
    )
    assert rows["random"].status == "failed" and rows["random"].reason.startswith("training was killed by SIGKILL")
    for row in rows.values():
        log = (tmp_path / "runs/four" / row.cell_id / "train.log").read_text()
        assert "forked from the warm worker" in log and "fake train of" in log  # the child's output reached its log
    assert "Traceback" in (tmp_path / "runs/four" / rows["greedy"].cell_id / "train.log").read_text()
    sleeper = int(
        [line for line in (tmp_path / "calls.txt").read_text().splitlines() if line.startswith("bfd")][0].split()[1]
    )
    with pytest.raises(ProcessLookupError):
        os.kill(sleeper, 0)


def test_each_child_starts_clean(four, tmp_path, monkeypatch):
    out = tmp_path / "state.jsonl"
    plans = plan_cells(four[:3], [], runs_dir=tmp_path / "runs")
    env = env_for(tmp_path, {}, WARM_MARK="cell-env", **{STATE_OUT: str(out)})
    cwd = tmp_path / "work"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.syspath_prepend(str(__import__("pathlib").Path(__file__).parents[2]))
    env["PYTHONPATH"] = str(__import__("pathlib").Path(__file__).parents[2])
    summary = run_local(
        plans,
        results_path=tmp_path / "r.jsonl",
        leaderboard_path=None,
        train_entry="tests.running.test_warm:record_state",
        resolve=identity,
        env=env,
        progress=quiet(3),
        runs_dir=tmp_path / "runs",
    )
    assert len(summary.results) == 3  # no metrics file: each is failed by the log reader, but all ran
    states = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(states) == 3 and len({state["pid"] for state in states}) == 3
    for state, plan in zip(states, plans):
        assert state["argv"] == ["tests.running.test_warm:record_state", str(plan.run_dir / "recipe.yml")]
        assert state["cwd"] == str(cwd) and state["env"] == "cell-env"
        assert state["own_group"] and state["own_session"] and state["sigint_default"] and state["sigterm_default"]
    assert len({state["random"] for state in states}) == 3  # re-seeded, not the worker's random state


def test_a_warm_worker_that_cannot_start_is_reported_once(tmp_path, capsys):
    from axolotl_packing_bench.running.backends.backend import BackendOptions
    from axolotl_packing_bench.running.backends.local import LocalBackend

    (tmp_path / "dies_on_import.py").write_text("import os\nos._exit(3)\n")
    env = env_for(tmp_path, {}, PYTHONPATH=str(tmp_path))
    backend = LocalBackend(
        BackendOptions(runs_dir=tmp_path / "runs", train_entry="dies_on_import:run", resolve=identity, env=env)
    )
    assert backend._worker() is None and backend._worker() is None
    assert "exited with status 3" in backend.warm_error
    assert capsys.readouterr().err.count("warning: no warm worker") == 1
    backend.close()
