"""A backend registered from a test module runs a matrix end to end through `packbench run --backend NAME`."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from axolotl_packing_bench.cli import main
from axolotl_packing_bench.results.store import read_results
from axolotl_packing_bench.running.backends.backend import Outcome, UnknownBackend, make_backend, register_backend
from axolotl_packing_bench.running.runner import parse_train_command, run_cell
from tests.running.conftest import fake_train_command

MATRIX = """\
name: inline
base: {sequence_len: 256, micro_batch_size: 2, num_epochs: 1, learning_rate: 1.0e-4}
axes:
  model: [{name: small, path: /models/small, size: 1B}]
  dataset: [{name: chats, size: 1K, datasets: [{path: /data/chats.jsonl, ds_type: json, type: chat_template}]}]
  strategy: [padding, greedy]
probes:
  reliance: {max_questions: 2}
"""


class InlineBackend:
    """Trains each cell in `submit`, synchronously, with the runner's own `run_cell`."""

    name = "inline"
    slots = 1
    runs_follow_up = False
    submitted: list[str] = []

    def __init__(self, options) -> None:
        self.options = options
        self.done: list[Outcome] = []

    def submit(self, plan) -> None:
        InlineBackend.submitted.append(plan.cell.axes["strategy"])
        result = run_cell(
            plan.cell, plan.run_dir, command=self.options.train_command, resolve=lambda uri: uri, repeat=plan.repeat
        )
        self.done.append(Outcome(plan, result))

    def poll(self, wait_s: float) -> list[Outcome]:
        done, self.done = self.done, []
        return done

    def cancel(self) -> None:
        self.done.clear()

    def close(self) -> None:
        pass


register_backend("inline", InlineBackend)


def test_a_registered_backend_trains_records_and_runs_the_probes(tmp_path, monkeypatch):
    import dataclasses

    from axolotl_packing_bench.probes import registry as probe_registry

    probed = []
    stub = dataclasses.replace(
        probe_registry.get_probe("reliance"),
        run=lambda run_dir, settings: probed.append(settings) or {"effects": {"stub": 1}},
    )
    monkeypatch.setitem(probe_registry._LOADED, "reliance", stub)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.yaml").write_text(MATRIX)
    InlineBackend.submitted.clear()
    outcome = CliRunner().invoke(
        main,
        [
            "run",
            "--matrix",
            "m.yaml",
            "--backend",
            "inline",
            "--repeats",
            "2",
            "--train-command",
            fake_train_command(calls=tmp_path / "calls.txt"),
        ],
        catch_exceptions=False,
    )
    assert outcome.exit_code == 0, outcome.output
    assert InlineBackend.submitted == ["padding", "greedy", "padding", "greedy"]  # repeats interleaved
    lines = [json.loads(line) for line in (tmp_path / "leaderboard/results.jsonl").read_text().splitlines()]
    assert len(lines) == 8  # each repeat: the training result, then the probed one (same run id)
    rows = read_results(tmp_path / "leaderboard/results.jsonl")
    assert len(rows) == 4 and all(row.metrics["reliance"] == {"effects": {"stub": 1}} for row in rows)
    assert sorted((row.axes["strategy"], row.repeat) for row in rows) == [
        ("greedy", 0),
        ("greedy", 1),
        ("padding", 0),
        ("padding", 1),
    ]
    assert probed == [{"max_questions": 2}] * 4


def test_an_unknown_backend_is_one_sentence(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.yaml").write_text(MATRIX)
    outcome = CliRunner().invoke(main, ["run", "--matrix", "m.yaml", "--backend", "nowhere"])
    assert outcome.exit_code == 2
    assert "--backend 'nowhere' is not a known backend; choose one of" in outcome.output and "inline" in outcome.output
    with pytest.raises(UnknownBackend):
        make_backend("nowhere", None)  # type: ignore[arg-type]


def test_the_command_template_reaches_the_backend():
    from axolotl_packing_bench.running.backends.backend import BackendOptions

    backend = make_backend("inline", BackendOptions(command=parse_train_command("train {config}")))
    assert backend.options.train_command == ("train", "{config}")
