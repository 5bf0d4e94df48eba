"""The runner with a fake trainer: results, crashes, timeouts, stop, resume, logs."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest
import yaml

from axolotl_packing_bench.matrix.spec import expand, load_matrix
from axolotl_packing_bench.results.store import RunResult, read_results
from axolotl_packing_bench.running.runner import (
    CellPlan,
    Progress,
    child_env,
    parse_train_command,
    plan_cells,
    run_cell,
    threads_per_cell,
    train_command,
)
from axolotl_packing_bench.running.trainlog import last_error_line, metrics_from_log
from tests.running.conftest import run_local
from tests.support.helpers import fake_command


def identity(uri: str) -> str:
    return uri


@pytest.fixture
def cells(hand_matrix):
    return expand(load_matrix(hand_matrix))


@pytest.fixture
def fake_env(tmp_path, monkeypatch):
    def make(plan: dict[str, str] | None = None) -> dict[str, str]:
        env = child_env()
        env["FAKE_TRAIN_PLAN"] = json.dumps(plan or {})
        env["FAKE_TRAIN_CALLS"] = str(tmp_path / "calls.txt")
        return env

    return make


def calls(tmp_path) -> list[str]:
    path = tmp_path / "calls.txt"
    return path.read_text().splitlines() if path.exists() else []


class TestRunCell:
    def test_ok_reads_the_plugin_metrics(self, cells, tmp_path, fake_env):
        run_dir = tmp_path / "runs" / "hand" / cells[1].cell_id
        result = run_cell(cells[1], run_dir, command=fake_command(), resolve=identity, env=fake_env())
        assert result.ok and result.reason is None
        assert result.cell_id == cells[1].cell_id and result.matrix == "hand"
        assert result.metric("training", "steps") == 8
        assert result.metric("runner", "exit_code") == 0
        assert result.run_id.startswith("fake-")
        recipe = yaml.safe_load((run_dir / "recipe.yml").read_text())
        assert recipe["output_dir"] == f"{run_dir}/output"
        assert recipe["dataset_prepared_path"] == f"{run_dir.parent}/prepared"
        assert "fake train of" in (run_dir / "train.log").read_text()
        assert not (run_dir / ".running").exists()

    def test_the_metrics_file_named_by_the_recipe_is_read(self, write_matrix, tmp_path, fake_env):
        from tests.support.helpers import HAND_MATRIX

        text = HAND_MATRIX.replace(
            "  optimizer: adamw_torch\n", "  optimizer: adamw_torch\n  packbench_metrics_file: run.json\n"
        )
        cell = expand(load_matrix(write_matrix(text)))[1]
        result = run_cell(cell, tmp_path / "c", command=fake_command(), resolve=identity, env=fake_env())
        assert (tmp_path / "c/output/run.json").exists() and not (tmp_path / "c/output/packbench_metrics.json").exists()
        assert result.ok and result.metric("training", "steps") == 8 and result.run_id.startswith("fake-")

    def test_the_default_metrics_file_is_the_plugins(self):
        from axolotl_packing_bench.matrix.recipe import metrics_file_name
        from axolotl_packing_bench.plugin.args import PackingBenchArgs

        default = PackingBenchArgs.model_fields["packbench_metrics_file"].default
        assert metrics_file_name({}) == default == "packbench_metrics.json"
        assert metrics_file_name({"packbench_metrics_file": "x.json"}) == "x.json"

    def test_crash_is_a_failed_result_with_the_error_line(self, cells, tmp_path, fake_env):
        result = run_cell(
            cells[1], tmp_path / "c", command=fake_command(), resolve=identity, env=fake_env({"greedy": "crash"})
        )
        assert result.status == "failed"
        assert result.reason == "training exited with status 1: RuntimeError: boom in greedy"
        assert result.log.endswith("train.log")

    def test_failed_metrics_give_the_plugin_error(self, cells, tmp_path, fake_env):
        result = run_cell(
            cells[1], tmp_path / "c", command=fake_command(), resolve=identity, env=fake_env({"*": "failed_metrics"})
        )
        assert (
            result.status == "failed" and result.reason == "training exited with status 1: ValueError: packing failed"
        )

    def test_plain_axolotl_log_gives_training_figures(self, cells, tmp_path, fake_env):
        result = run_cell(
            cells[0], tmp_path / "c", command=fake_command(), resolve=identity, env=fake_env({"*": "log_only"})
        )
        assert result.ok
        assert result.metric("training", "runtime_s") == 3.5
        assert result.metric("training", "final_train_loss") == 4.2
        assert result.metric("training", "steps") == 10
        assert result.metric("versions", "python")  # filled in by the runner

    def test_timeout_kills_the_process(self, cells, tmp_path, fake_env):
        started = time.monotonic()
        result = run_cell(
            cells[0],
            tmp_path / "c",
            command=fake_command(),
            resolve=identity,
            env=fake_env({"*": "sleep:60"}),
            timeout=1.0,
        )
        assert time.monotonic() - started < 20
        assert result.status == "timeout"
        assert result.reason.startswith("timed out after 1s; last log line: fake train of")
        pid = int(calls(tmp_path)[0].split()[1])
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)

    def test_stop_returns_nothing_and_kills_the_process(self, cells, tmp_path, fake_env):
        stop = threading.Event()
        threading.Timer(1.0, stop.set).start()
        result = run_cell(
            cells[0],
            tmp_path / "c",
            command=fake_command(),
            resolve=identity,
            env=fake_env({"*": "sleep:60"}),
            stop=stop,
        )
        assert result is None
        pid = int(calls(tmp_path)[0].split()[1])
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)

    def test_missing_program_fails_the_cell(self, cells, tmp_path):
        result = run_cell(cells[0], tmp_path / "c", command=("/no/such/trainer", "{config}"), resolve=identity)
        assert result.status == "failed" and "cannot start /no/such/trainer" in result.reason

    def test_unresolvable_asset_fails_the_cell(self, write_matrix, tmp_path):
        from tests.support.helpers import HAND_MATRIX

        cell = expand(load_matrix(write_matrix(HAND_MATRIX.replace("/models/small", "packbench://model/nope"))))[0]

        def broken(uri: str) -> str:
            raise ValueError(f"unknown asset URI {uri!r}")

        result = run_cell(cell, tmp_path / "c", command=fake_command(), resolve=broken)
        assert result.status == "failed"
        assert result.reason == "cannot prepare the recipe: unknown asset URI 'packbench://model/nope'"
        assert "cannot prepare the recipe" in (tmp_path / "c" / "train.log").read_text()


class TestRunMatrix:
    def test_failure_is_isolated_and_resume_skips_done_cells(self, cells, tmp_path, fake_env):
        results, board = tmp_path / "results.jsonl", tmp_path / "LEADERBOARD.md"
        plans = plan_cells(cells, [], runs_dir=tmp_path / "runs")
        progress = Progress(total=len(plans), stream=open(os.devnull, "w"))
        summary = run_local(
            plans,
            results_path=results,
            leaderboard_path=board,
            command=fake_command(),
            resolve=identity,
            env=fake_env({"greedy": "crash"}),
            progress=progress,
            jobs=2,
        )
        assert not summary.all_ok and len(summary.results) == 6
        rows = read_results(results)
        assert sorted(r.status for r in rows) == ["failed"] * 4 + ["ok"] * 2
        assert "## Failed cells" in board.read_text()

        again = plan_cells(cells, read_results(results), runs_dir=tmp_path / "runs")
        assert [p.skip for p in again] == [c.axes["strategy"] == "padding" for c in cells]
        before = len(calls(tmp_path))
        summary = run_local(
            again,
            results_path=results,
            leaderboard_path=board,
            command=fake_command(),
            resolve=identity,
            env=fake_env(),
            progress=Progress(total=4, stream=open(os.devnull, "w")),
        )
        assert summary.all_ok and summary.skipped == 2
        assert len(calls(tmp_path)) == before + 4
        assert plan_cells(cells, read_results(results), runs_dir=tmp_path / "runs", fresh=False)[0].skip
        assert not any(p.skip for p in plan_cells(cells, read_results(results), runs_dir=tmp_path / "runs", fresh=True))

    def test_stop_records_only_finished_cells(self, cells, tmp_path, fake_env):
        results = tmp_path / "results.jsonl"
        stop = threading.Event()
        plans = plan_cells(cells[:3], [], runs_dir=tmp_path / "runs")
        threading.Timer(4.0, stop.set).start()
        summary = run_local(
            plans,
            results_path=results,
            leaderboard_path=None,
            command=fake_command(),
            resolve=identity,
            env=fake_env({"greedy": "sleep:60"}),
            stop=stop,
            progress=Progress(total=3, stream=open(os.devnull, "w")),
        )
        assert summary.interrupted and summary.not_run == 2
        assert [r.axes["strategy"] for r in read_results(results)] == ["padding"]

    def test_a_bug_in_one_cell_does_not_stop_the_others(self, cells, tmp_path):
        from axolotl_packing_bench.running.backends.backend import Outcome
        from axolotl_packing_bench.running.driver import drive

        class Flaky:
            name, slots, runs_follow_up = "flaky", 2, False

            def __init__(self):
                self.done = []

            def submit(self, plan):
                if plan.cell.axes["strategy"] == "greedy":
                    raise RuntimeError("bug")
                self.done.append(
                    Outcome(
                        plan, RunResult(run_id=plan.cell.cell_id, cell_id=plan.cell.cell_id, matrix="hand", status="ok")
                    )
                )

            def poll(self, wait_s):
                done, self.done = self.done, []
                return done

            def cancel(self):
                pass

            def close(self):
                pass

        recorded = []
        plans = [CellPlan(cell, tmp_path / cell.cell_id) for cell in cells]
        summary, handed_off = drive(
            plans, Flaky(), record=recorded.append, progress=Progress(total=6, stream=open(os.devnull, "w"))
        )
        assert sorted(r.status for r in summary.results) == ["failed"] * 4 + ["ok"] * 2 and handed_off == 0
        assert recorded == list(summary.results)
        failed = next(r for r in summary.results if not r.ok)
        assert failed.reason == "packbench could not run the cell: RuntimeError('bug')"


class TestPlan:
    def test_repeats_interleave_the_cells_of_a_table(self, cells, tmp_path):
        plans = plan_cells(cells, [], runs_dir=tmp_path, repeats=2)
        assert len(plans) == 12
        small = [
            (p.cell.axes["strategy"], p.cell.axes["attention"], p.repeat)
            for p in plans
            if p.cell.axes["model"] == "small"
        ]
        assert small == [
            ("padding", "isolated", 0),
            ("greedy", "isolated", 0),
            ("greedy", "shared", 0),
            ("padding", "isolated", 1),
            ("greedy", "isolated", 1),
            ("greedy", "shared", 1),
        ]
        assert plans[3].run_dir.name == plans[0].run_dir.name + ".repeat1"
        assert plans[3].run_dir.parent == plans[0].run_dir.parent  # the repeats share the prepared data

    def test_resume_counts_the_repeats_done(self, cells, tmp_path):
        done = [
            RunResult(run_id=f"r{r}", cell_id=cells[0].cell_id, matrix="hand", status="ok", repeat=r) for r in (0, 2)
        ]
        failed = RunResult(run_id="f", cell_id=cells[0].cell_id, matrix="hand", status="failed", repeat=1)
        plans = [p for p in plan_cells(cells, [*done, failed], runs_dir=tmp_path, repeats=3) if p.cell == cells[0]]
        assert [(p.repeat, p.skip) for p in plans] == [(0, True), (1, False), (2, True)]

    def test_repeats_must_be_positive(self, cells, tmp_path):
        with pytest.raises(ValueError):
            plan_cells(cells, [], runs_dir=tmp_path, repeats=0)


def test_progress_lines(cells, tmp_path):
    import io

    stream = io.StringIO()
    progress = Progress(total=2, stream=stream)
    plan = CellPlan(cells[0], tmp_path)
    progress.start(plan)
    progress.finish(
        plan, RunResult(run_id="x", cell_id="x", matrix="m", status="failed", reason="boom", log="l.log"), 61.0
    )
    text = stream.getvalue()
    assert f"[0/2] start   {cells[0].cell_id}" in text
    assert f"[1/2] FAILED  {cells[0].cell_id} in 1m01s" in text and "ETA 1m01s" in text
    assert "reason: boom" in text


def test_train_command_template():
    assert train_command(("axolotl", "train", "{config}", "--launcher", "{launcher}"), "r.yml", "accelerate") == [
        "axolotl",
        "train",
        "r.yml",
        "--launcher",
        "accelerate",
    ]
    assert parse_train_command("accelerate launch -m axolotl.cli.train {config}")[-1] == "{config}"
    with pytest.raises(ValueError):
        parse_train_command("axolotl train")


def test_train_command_for_several_processes():
    """Axolotl's CLI gets the launcher's arguments after `--`; another template places `{processes}` itself."""
    import sys

    from axolotl_packing_bench.running.runner import DEFAULT_TRAIN_COMMAND

    argv = train_command(DEFAULT_TRAIN_COMMAND, "r.yml", "torchrun", 2)
    assert argv == [
        sys.executable,
        *("-m", "axolotl.cli.main", "train", "r.yml", "--launcher", "torchrun"),
        *("--", "--standalone", "--nproc_per_node", "2"),
    ]
    assert train_command(DEFAULT_TRAIN_COMMAND, "r.yml", "python", 1)[-2:] == ["--launcher", "python"]
    own = ("torchrun", "--nproc_per_node", "{processes}", "-m", "axolotl.cli.train", "{config}")
    assert train_command(own, "r.yml", "torchrun", 4) == [
        *("torchrun", "--nproc_per_node", "4", "-m", "axolotl.cli.train", "r.yml")
    ]


def test_several_processes_find_this_environments_launcher_first_on_path():
    import sys
    from pathlib import Path

    from axolotl_packing_bench.running.runner import launch_env

    bin_dir = str(Path(sys.executable).parent)
    env = {"PATH": "/usr/bin", "X": "1", "OMP_NUM_THREADS": "8"}
    assert launch_env(env, 1) == env
    assert launch_env(env, 2) == {"PATH": f"{bin_dir}{os.pathsep}/usr/bin", "X": "1", "OMP_NUM_THREADS": "4"}
    assert launch_env({**env, "PATH": bin_dir}, 3)["PATH"] == bin_dir  # already first: not twice
    assert launch_env({**env, "OMP_NUM_THREADS": "1"}, 4)["OMP_NUM_THREADS"] == "1"  # never none
    assert env == {"PATH": "/usr/bin", "X": "1", "OMP_NUM_THREADS": "8"}  # the caller's mapping is left alone


class TestProcessCount:
    def cells(self, write_matrix):
        from tests.support.helpers import HAND_MATRIX

        return expand(load_matrix(write_matrix("num_processes: 2\n" + HAND_MATRIX)))

    def test_a_run_on_fewer_processes_than_asked_fails_the_cell(self, write_matrix, tmp_path, fake_env):
        cell = self.cells(write_matrix)[1]
        result = run_cell(cell, tmp_path / "c", command=fake_command(), resolve=identity, env=fake_env())
        assert result.status == "failed"
        assert result.reason == (
            "num_processes asked for 2 training processes and training ran on 1; with launcher torchrun check "
            "how it starts them (torchrun starts them on any machine, accelerate as its own config says)"
        )
        assert result.metric("runner", "num_processes") == 2 and result.metric("processes") == 1

    def test_the_processes_asked_for_are_recorded(self, write_matrix, tmp_path, fake_env):
        cell = self.cells(write_matrix)[1]
        env = {**fake_env(), "FAKE_TRAIN_PROCESSES": "2"}
        result = run_cell(cell, tmp_path / "c", command=fake_command(), resolve=identity, env=env)
        assert result.ok and result.metric("processes") == 2 and result.metric("runner", "num_processes") == 2


def test_child_env_defaults(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    env = child_env(jobs=2)
    assert env["HF_HUB_OFFLINE"] == "0"  # the user's choice wins
    assert env["PYTHONUNBUFFERED"] == "1" and env["WANDB_MODE"]
    monkeypatch.delenv("HF_HUB_OFFLINE")
    assert child_env()["HF_HUB_OFFLINE"] == "1"


def test_threads_per_cell_honours_omp_num_threads():
    cores = os.cpu_count() or 1
    assert threads_per_cell(1, {}) == max(1, cores)
    assert threads_per_cell(cores * 2, {}) == 1
    assert threads_per_cell(1, {"OMP_NUM_THREADS": "1"}) == 1  # the caller's setting wins, e.g. a one-thread gate
    assert threads_per_cell(2, {"OMP_NUM_THREADS": "bogus"}) == max(1, cores // 2)


class TestTrainLog:
    def test_last_error_line_prefers_the_exception(self):
        log = (
            "step 1\nTraceback (most recent call last):\n  File x\nValueError: bad sequence_len\n"
            "[WARNING] py.warnings: Error: ignore\n 50%|#####| 5/10\r 60%|######| 6/10\n"
        )
        assert last_error_line(log) == "ValueError: bad sequence_len"

    def test_last_line_when_no_error(self):
        assert last_error_line("a\n\nlast words\n") == "last words"
        assert last_error_line("") is None

    def test_reason_is_one_short_sentence(self):
        line = last_error_line("RuntimeError: " + "x" * 1000 + " token=hf_abcdefghijklmnopqrstuvwxyz")
        assert len(line) <= 300 and line.endswith("…")

    def test_metrics_from_log(self):
        log = (
            "  5/5 [00:01<00:00]{'loss': '6.1', 'grad_norm': '1.0', 'epoch': '0.5'}\n{'loss': '5.5', 'epoch': '1'}\n"
            "{'train_runtime': '65.37', 'train_samples_per_second': '10.46', 'train_loss': '6.082', 'epoch': '1'}\n"
        )
        training = metrics_from_log(log)["training"]
        assert training == {
            "steps": 5,
            "epochs": 1.0,
            "runtime_s": 65.37,
            "samples_per_s": 10.46,
            "real_tokens_per_s": None,
            "final_train_loss": 5.5,
            "eval_loss": None,
        }
        assert metrics_from_log("no figures") == {}


def test_progress_warns_as_a_loaded_cell_finishes(cells, tmp_path):
    import io

    (plan,) = plan_cells(cells[:1], [], runs_dir=tmp_path / "runs")
    stream = io.StringIO()
    progress = Progress(total=2, stream=stream)
    base = RunResult(
        run_id="r",
        cell_id=plan.cell.cell_id,
        matrix="m",
        status="ok",
        axes=dict(plan.cell.axes),
        labels={},
        metrics={"runner": {"load": {"loaded": False, "others_cores": 0.1}}},
    )
    progress.finish(plan, base, 3.0)
    assert "loaded machine" not in stream.getvalue()
    progress.finish(plan, base.replace(metrics={"runner": {"load": {"loaded": True, "others_cores": 1.7}}}), 3.0)
    assert (
        "⚠ measured on a loaded machine (other programs used 1.7 cores): its times are not comparable; rerun it "
        "when idle"
    ) in stream.getvalue()
