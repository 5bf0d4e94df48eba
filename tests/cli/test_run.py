"""`packbench run` and `packbench status`, with a fake trainer and once with real Axolotl."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from axolotl_packing_bench.cli import main
from axolotl_packing_bench.results.store import read_results
from tests.support.helpers import FAKE_TRAIN_COMMAND as FAKE

FAKE_TRAIN = Path(__file__).parents[1] / "support" / "fake_train.py"

MATRIX = """\
name: quick
base:
  sequence_len: 256
  micro_batch_size: 2
  num_epochs: 1
  learning_rate: 1.0e-4
axes:
  model:
    - {name: small, path: /models/small, size: 1B}
  dataset:
    - {name: chats, size: 1K, datasets: [{path: /data/chats.jsonl, ds_type: json, type: chat_template}]}
  strategy: [padding, greedy, bfd]
"""


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A working directory with the matrix, and the fake trainer's environment."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.yaml").write_text(MATRIX)
    monkeypatch.setenv("FAKE_TRAIN_CALLS", str(tmp_path / "calls.txt"))
    monkeypatch.setenv("FAKE_TRAIN_PLAN", "{}")
    return tmp_path


def plan(monkeypatch, **actions: str) -> None:
    monkeypatch.setenv("FAKE_TRAIN_PLAN", json.dumps(actions))


def calls(work: Path) -> list[str]:
    path = work / "calls.txt"
    return path.read_text().splitlines() if path.exists() else []


def run(*args: str):
    return CliRunner().invoke(
        main, ["run", "--matrix", "m.yaml", "--train-command", FAKE, *args], catch_exceptions=False
    )


def test_dry_run_prints_the_plan_and_runs_nothing(work):
    result = run("--dry-run", "--timeout", "90s")
    assert result.exit_code == 0
    assert "matrix quick: 3 cells, 3 to run, 0 already done" in result.output
    assert "run  small__chats__padding__isolated-" in result.output and "(timeout 90 s)" in result.output
    assert f"{FAKE_TRAIN} " in result.output and "runs/quick/small__chats__padding__isolated-" in result.output
    assert not calls(work) and not (work / "leaderboard").exists()


def test_run_records_every_cell_and_renders_the_leaderboard(work):
    result = run()
    assert result.exit_code == 0, result.output
    rows = read_results(work / "leaderboard/results.jsonl")
    assert sorted(r.axes["strategy"] for r in rows) == ["bfd", "greedy", "padding"]
    assert all(r.ok and r.matrix == "quick" for r in rows)
    board = (work / "leaderboard/LEADERBOARD.md").read_text()
    assert "### chats (1K) × small (1B)" in board and "| greedy | 8 |" in board
    assert "[3/3] ok" in result.stderr and "ETA" in result.stderr
    for row in rows:
        assert (work / "runs/quick" / row.cell_id / "train.log").is_file()
        assert (work / "runs/quick" / row.cell_id / "recipe.yml").is_file()


def test_rerun_skips_done_cells_in_seconds(work):
    assert run().exit_code == 0
    before = len(calls(work))
    started = time.monotonic()
    result = run()
    assert time.monotonic() - started < 10
    assert result.exit_code == 0
    assert "3 of 3 cells already done (skipped); running 0" in result.stderr
    assert len(calls(work)) == before
    assert run("--fresh").exit_code == 0 and len(calls(work)) == before + 3


def test_a_crash_is_recorded_and_the_matrix_goes_on(work, monkeypatch):
    plan(monkeypatch, greedy="crash")
    result = run()
    assert result.exit_code == 1
    rows = {r.axes["strategy"]: r for r in read_results(work / "leaderboard/results.jsonl")}
    assert rows["greedy"].status == "failed"
    assert rows["greedy"].reason == "training exited with status 1: RuntimeError: boom in greedy"
    assert rows["padding"].ok and rows["bfd"].ok
    assert "RuntimeError: boom in greedy" in (work / "leaderboard/LEADERBOARD.md").read_text()
    plan(monkeypatch)
    assert run().exit_code == 0  # resume reruns only the failed cell
    assert [line.split()[0] for line in calls(work)].count("greedy") == 2
    assert [line.split()[0] for line in calls(work)].count("padding") == 1


def test_repeats_are_interleaved_recorded_and_resumed(work):
    result = run("--repeats", "2")
    assert result.exit_code == 0, result.output
    assert [line.split()[0] for line in calls(work)] == ["padding", "greedy", "bfd"] * 2
    rows = read_results(work / "leaderboard/results.jsonl")
    assert sorted((r.axes["strategy"], r.repeat) for r in rows) == sorted(
        (s, i) for s in ("padding", "greedy", "bfd") for i in (0, 1)
    )
    assert len(list((work / "runs/quick").glob("*.repeat1"))) == 3
    assert run("--repeats", "2").exit_code == 0 and len(calls(work)) == 6  # every repeat done
    assert run("--repeats", "3").exit_code == 0 and len(calls(work)) == 9  # only the third repeat runs


def test_timeout(work, monkeypatch):
    plan(monkeypatch, bfd="sleep:60")
    result = run("--timeout", "1")
    assert result.exit_code == 1
    (row,) = [r for r in read_results(work / "leaderboard/results.jsonl") if r.axes["strategy"] == "bfd"]
    assert row.status == "timeout" and row.reason.startswith("timed out after 1s")


def test_only_selects_cells(work):
    result = run("--only", "strategy=greedy")
    assert result.exit_code == 0
    assert [r.axes["strategy"] for r in read_results(work / "leaderboard/results.jsonl")] == ["greedy"]
    result = run("--only", "strategy=nothing")
    assert result.exit_code == 2 and "no cell of m.yaml matches --only strategy=nothing" in result.output


def test_custom_paths(work):
    result = run("--runs-dir", "elsewhere", "--results", "r/res.jsonl", "--leaderboard", "r/LB.md", "--jobs", "2")
    assert result.exit_code == 0
    assert len(read_results(work / "r/res.jsonl")) == 3 and (work / "r/LB.md").exists()
    assert len(list((work / "elsewhere/quick").glob("small__*"))) == 3


def test_bad_options_are_one_sentence(work):
    result = CliRunner().invoke(main, ["run", "--matrix", "m.yaml", "--timeout", "soon"], catch_exceptions=False)
    assert result.exit_code == 2 and "--timeout 'soon' is not a duration" in result.output
    result = CliRunner().invoke(
        main, ["run", "--matrix", "m.yaml", "--train-command", "train.sh"], catch_exceptions=False
    )
    assert result.exit_code == 2 and "must contain {config}" in result.output


def local_inputs(work: Path, text: str = MATRIX) -> str:
    """`text` with a real local model folder and dataset file in place of the made-up paths."""
    (work / "models" / "small").mkdir(parents=True)
    (work / "models" / "small" / "config.json").write_text("{}")
    (work / "chats.jsonl").write_text(
        '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n'
    )
    return text.replace("/models/small", str(work / "models" / "small")).replace(
        "/data/chats.jsonl", str(work / "chats.jsonl")
    )


def test_run_validates_first_and_refuses_a_misspelled_key_before_training(work):
    (work / "m.yaml").write_text(local_inputs(work, MATRIX.replace("micro_batch_size", "micro_batch_sze")))
    result = run("--validate")
    assert result.exit_code == 2, result.output
    assert (
        "m.yaml: base.micro_batch_sze: unknown Axolotl key (did you mean 'micro_batch_size'?), which Axolotl "
        "would silently ignore (3 cells); fix: rename or remove it."
    ) in result.output
    assert "nothing trained" in result.output and "Traceback" not in result.output
    assert calls(work) == [] and not (work / "leaderboard" / "results.jsonl").exists()
    skipped = run("--no-validate")  # the user's choice: it trains as written
    assert skipped.exit_code == 0 and len(calls(work)) == 3


def test_run_refuses_a_missing_model_path_before_training(work):
    text = local_inputs(work)
    (work / "m.yaml").write_text(text.replace(str(work / "models" / "small"), str(work / "models" / "gone")))
    result = run("--validate")
    assert result.exit_code == 2, result.output
    assert (
        f"m.yaml: axes.model[small].path: the local model path {work / 'models' / 'gone'} does not exist (3 cells)"
        in result.output
    )
    assert calls(work) == [] and not (work / "runs").exists()
    (work / "m.yaml").write_text(text)
    ok = run("--validate")
    assert ok.exit_code == 0, ok.output
    assert len(calls(work)) == 3


def test_status(work, monkeypatch):
    plan(monkeypatch, greedy="crash")
    run("--only", "strategy=padding", "--only", "strategy=greedy")
    result = CliRunner().invoke(main, ["status", "--matrix", "m.yaml"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "matrix quick: 3 cells: 1 ok, 1 failed, 1 pending" in result.output
    assert "failed   small__chats__greedy__isolated-" in result.output and "boom in greedy" in result.output
    assert "pending  small__chats__bfd__isolated-" in result.output


def test_ctrl_c_kills_children_keeps_results_and_exits_130(work):
    env = {**os.environ, "FAKE_TRAIN_PLAN": json.dumps({"greedy": "sleep:120"}), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from axolotl_packing_bench.cli import main; main()",
            "run",
            "--matrix",
            "m.yaml",
            "--train-command",
            FAKE,
        ],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait for padding to finish and greedy to start sleeping
        if len(calls(work)) >= 2 and list((work / "runs/quick").glob("*greedy*/.running")):
            break
        time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("the run did not reach the sleeping cell")
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 130, output
    assert "interrupted" in output
    rows = read_results(work / "leaderboard/results.jsonl")
    assert [r.axes["strategy"] for r in rows] == ["padding"]
    lines = (work / "leaderboard/results.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["status"] == "ok"
    assert "| padding |" in (work / "leaderboard/LEADERBOARD.md").read_text()
    leftovers = [p for p in work.rglob("*") if p.name.endswith(".tmp") or p.name == ".running"]
    assert leftovers == []
    sleeper = int([line for line in calls(work) if line.startswith("greedy")][0].split()[1])
    with pytest.raises(ProcessLookupError):
        os.kill(sleeper, 0)


PLUGIN_IMPORTABLE = importlib.util.find_spec("axolotl_packing_bench.plugin") is not None

REAL_MATRIX = """\
name: real
timeout: 10m
base:
  sequence_len: 512
  micro_batch_size: 4
  num_epochs: 1
  learning_rate: 1.0e-3
  optimizer: adamw_torch
  lr_scheduler: cosine
  bf16: false
  fp16: false
  attn_implementation: sdpa
  tokenizer_config: packbench://tokenizer
  chat_template: tokenizer_default
  eot_tokens: ["<|eot_id|>"]
  val_set_size: 0
  save_strategy: "no"
  logging_steps: 1
  dataset_num_proc: 1
axes:
  model:
    - {name: tiny-8b, path: packbench://model/tiny-8b-init, size: 8B}
  dataset:
    - name: synth-48
      size: "48"
      datasets:
        - {path: packbench://dataset/48, ds_type: json, type: chat_template, field_messages: messages,
           chat_template: tokenizer_default, roles_to_train: [assistant], train_on_eos: turn}
  strategy: [padding, greedy]
"""


@pytest.mark.slow
@pytest.mark.skipif(not PLUGIN_IMPORTABLE, reason="the packbench plugin is not importable in this build")
def test_real_axolotl_run_of_two_cells(tmp_path, monkeypatch):
    """Two cells through real `axolotl train` with the plugin, on CPU (~2 min)."""
    import axolotl_packing_bench

    axolotl_packing_bench.PackingBenchPlugin  # noqa: B018 - fails here if the plugin is broken
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.yaml").write_text(REAL_MATRIX)
    result = CliRunner().invoke(main, ["run", "--matrix", "m.yaml", "--jobs", "2"], catch_exceptions=False)
    rows = {r.axes["strategy"]: r for r in read_results(tmp_path / "leaderboard/results.jsonl")}
    logs = {s: (tmp_path / r.log).read_text()[-3000:] for s, r in rows.items() if r.log}
    assert result.exit_code == 0, (result.output, logs)
    assert set(rows) == {"padding", "greedy"}
    for row in rows.values():
        assert row.metric("training", "runtime_s") > 0
        assert row.metric("training", "steps") > 0
        assert row.metric("dataset", "samples") == 48
        assert row.metric("versions", "axolotl")
        # the warm worker's cells reach every plugin hook (post_model_load, post_trainer_create)
        assert row.metric("model", "parameters") > 0 and row.metric("loss_mode") == "token"
        assert row.metric("packing", "trainer_batches", "uncounted") == 0
        assert 0 < row.metric("packing", "trainer_efficiency") <= 1
    assert rows["greedy"].metric("packing", "efficiency") > rows["padding"].metric("packing", "efficiency")
    assert rows["greedy"].metric("training", "steps") < rows["padding"].metric("training", "steps")
    board = (tmp_path / "leaderboard/LEADERBOARD.md").read_text()
    assert "### synth-48 (48) × tiny-8b · 0.6M params, stands for 8B" in board
    started = time.monotonic()
    assert CliRunner().invoke(main, ["run", "--matrix", "m.yaml"], catch_exceptions=False).exit_code == 0
    assert time.monotonic() - started < 15  # a second run skips both cells


def test_run_ends_with_the_verdict_of_each_table(work):
    result = run()
    assert result.exit_code == 0, result.output
    assert "verdict (against padding; the board has every row):" in result.stdout
    assert "  chats × small: bfd 3.10× faster (train time), held-out loss not measured — " in result.stdout


def test_leaderboard_dash_prints_the_board_and_writes_no_file(work):
    result = run("--leaderboard", "-")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("# Packing leaderboard") == 1 and "| bfd | 8 |" in result.stdout
    assert not (work / "-").exists() and not (work / "leaderboard/LEADERBOARD.md").exists()
    assert (work / "leaderboard/results.jsonl").is_file()
