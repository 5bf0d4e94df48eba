"""The Ray backend on a real local Ray cluster (2 CPUs): failures, resume, retries, lost workers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from axolotl_packing_bench.cli import main
from axolotl_packing_bench.matrix.spec import expand, load_matrix
from axolotl_packing_bench.report.leaderboard import render_leaderboard
from axolotl_packing_bench.results.store import latest_per_cell, read_results
from tests.running.conftest import fake_train_command

ray = pytest.importorskip("ray", reason="the Ray backend needs `pip install axolotl-packing-bench[cluster]`")


@pytest.fixture(scope="module", autouse=True)
def ray_cluster():
    """One local Ray cluster for the module (start-up takes ~10 s)."""
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
    )
    yield
    ray.shutdown()


def run_cli(*args: str, expect: int | None = None) -> str:
    outcome = CliRunner().invoke(main, ["run", *args], catch_exceptions=False)
    if expect is not None:
        assert outcome.exit_code == expect, outcome.output
    return outcome.output


def calls_of(path: Path) -> list[str]:
    return [line.split()[0] for line in path.read_text().splitlines()] if path.exists() else []


def test_failed_cell_is_recorded_others_finish_and_rerun_resumes(tmp_path, cpu_matrix, monkeypatch):
    monkeypatch.chdir(tmp_path)
    calls = tmp_path / "calls.txt"
    command = fake_train_command({"greedy": "crash"}, calls=calls)
    args = ["--matrix", str(cpu_matrix), "--backend", "ray", "--train-command", command]
    output = run_cli(*args, expect=1)
    assert "2 ok, 4 failed, 0 skipped" in output  # 4 greedy cells, 2 padding
    latest = latest_per_cell(read_results("leaderboard/results.jsonl"))
    assert len(latest) == 6
    for result in latest.values():
        assert result.metrics["runner"]["backend"] == "ray"
        if result.axes["strategy"] == "greedy":
            assert result.status == "failed" and "RuntimeError: boom in greedy" in result.reason
            assert Path(result.log).read_text().count("boom in greedy") == 1  # the log came back
        else:
            assert result.ok
            assert (Path("runs/hand") / result.cell_id / "output" / "packbench_metrics.json").exists()
    assert len(calls_of(calls)) == 6

    # rerun: the ok cells are skipped, the failed ones run again (now fixed)
    fixed = fake_train_command(calls=calls)
    output = run_cli(
        "--matrix",
        str(cpu_matrix),
        "--backend",
        "ray",
        "--train-command",
        fixed,
        expect=0,
    )
    assert "4 ok, 0 failed, 2 skipped" in output
    assert calls_of(calls)[6:] == ["greedy"] * 4
    assert all(result.ok for result in latest_per_cell(read_results("leaderboard/results.jsonl")).values())
    status = CliRunner().invoke(main, ["status", "--matrix", str(cpu_matrix)], catch_exceptions=False)
    assert "6 cells: 6 ok" in status.output


def test_retries_rerun_a_failing_cell_once(tmp_path, cpu_matrix, monkeypatch):
    monkeypatch.chdir(tmp_path)
    calls = tmp_path / "calls.txt"
    command = fake_train_command({"greedy": "crash"}, calls=calls)
    run_cli("--matrix", str(cpu_matrix), "--backend", "ray", "--only", "small__*__greedy__*",
            "--retries", "1", "--train-command", command, expect=1)  # fmt: skip
    assert calls_of(calls) == [
        "greedy",
        "greedy",
        "greedy",
        "greedy",
    ]  # 2 greedy cells of model small, twice each
    rows = read_results("leaderboard/results.jsonl")
    assert len(rows) == 4 and all(row.status == "failed" for row in rows)
    assert sum("attempt 1 of 2" in row.reason for row in rows) == 2


def test_leaderboard_equals_the_local_backends(tmp_path, cpu_matrix, monkeypatch):
    command = fake_train_command({"padding": "crash"})
    boards = {}
    for backend in ("local", "ray"):
        folder = tmp_path / backend
        folder.mkdir()
        monkeypatch.chdir(folder)
        run_cli(
            "--matrix",
            str(cpu_matrix),
            "--backend",
            backend,
            "--train-command",
            command,
            expect=1,
        )
        # `runner` says how and on what load a cell ran, which is the backend's own business
        boards[backend] = render_leaderboard(
            [
                row.replace(
                    run_id=f"{row.cell_id}",
                    recorded_at="",
                    metrics={key: value for key, value in row.metrics.items() if key != "runner"},
                )
                for row in read_results("leaderboard/results.jsonl")
            ]
        )
    assert boards["ray"] == boards["local"]
    assert "boom in padding" in boards["ray"]


def test_a_dead_worker_is_recorded_as_a_failed_cell(tmp_path, cpu_matrix):
    from axolotl_packing_bench.running.backends.ray_backend import lost_result

    @ray.remote(max_retries=0)
    def die() -> None:
        os._exit(1)

    cell = expand(load_matrix(cpu_matrix))[0]
    with pytest.raises(ray.exceptions.RayError) as caught:
        ray.get(die.remote(), timeout=60)
    result = lost_result(cell, tmp_path, caught.value)
    assert result.status == "failed" and result.cell_id == cell.cell_id
    assert result.reason.startswith("the Ray worker died")


def test_stop_cancels_running_cells_and_kills_their_training(tmp_path, cpu_matrix):
    import threading
    import time

    from axolotl_packing_bench.running.backends.backend import BackendOptions
    from axolotl_packing_bench.running.backends.ray_backend import RayBackend
    from axolotl_packing_bench.running.driver import drive
    from axolotl_packing_bench.running.runner import Progress, parse_train_command, plan_cells

    calls = tmp_path / "calls.txt"
    matrix = load_matrix(cpu_matrix)
    plans = plan_cells(expand(matrix)[:1], [], runs_dir=tmp_path / "runs")
    stop = threading.Event()

    def set_stop_when_training() -> None:
        deadline = time.monotonic() + 60
        while not calls.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()

    threading.Thread(target=set_stop_when_training, daemon=True).start()
    backend = RayBackend(
        BackendOptions(matrix=matrix, command=parse_train_command(fake_train_command({"*": "sleep:60"}, calls=calls)))
    )
    recorded = []
    summary, _ = drive(plans, backend, record=recorded.append, stop=stop, progress=Progress(total=1))
    assert not recorded
    assert summary.interrupted and summary.not_run == 1 and not summary.results
    assert not (tmp_path / "results.jsonl").exists()
    pid = int(calls.read_text().split()[1])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.kill(pid, 9)
        pytest.fail("the cancelled cell's training process was left running")


def test_cells_no_node_can_hold_are_named():
    from axolotl_packing_bench.running.backends.ray_backend import unplaceable
    from axolotl_packing_bench.running.backends.resources import Resources

    nodes = [
        {"Alive": True, "Resources": {"CPU": 16.0, "GPU": 4.0}},
        {"Alive": False, "Resources": {"CPU": 96.0, "GPU": 8.0}},
    ]
    assert unplaceable(Resources(cpus=8, gpus=4), nodes) is None
    why = unplaceable(Resources(cpus=64, gpus=8), nodes)
    assert why == "asks for 8 GPUs and 64 CPUs on one node; the largest node has 4 GPUs and 16 CPUs"


@pytest.mark.slow
def test_a_real_tiny_axolotl_cell_on_ray(tmp_path, monkeypatch):
    """One real `axolotl train` of the embedded tiny model (30 samples, 2 steps) as a Ray task (~1 min)."""
    from tests.cli.test_run import REAL_MATRIX

    monkeypatch.chdir(tmp_path)
    text = REAL_MATRIX.replace("name: real", "name: tiny-ray").replace(
        "packbench://dataset/48", "packbench://dataset/30"
    )
    text = text.replace("  logging_steps: 1\n", "  logging_steps: 1\n  max_steps: 2\n").replace(
        "[padding, greedy]", "[greedy]"
    )
    (tmp_path / "m.yaml").write_text(text + "resources:\n  default: {cpus: 2}\n")  # tiny models: derived gpus 0
    output = run_cli("--matrix", "m.yaml", "--backend", "ray")
    (row,) = read_results("leaderboard/results.jsonl")
    assert row.ok, (output, Path(row.log).read_text()[-3000:])
    assert row.metric("training", "steps") == 2
    assert row.metrics["runner"]["backend"] == "ray"


def test_the_matrix_probes_run_in_the_ray_task(tmp_path, cpu_matrix, monkeypatch):
    """The follow-up runs where the model is: the task returns the trained and the probed result, both recorded."""
    monkeypatch.chdir(tmp_path)
    matrix = tmp_path / "probed.yaml"
    matrix.write_text(cpu_matrix.read_text() + "probes:\n  reliance: {max_questions: 2, bootstrap: 10}\n")
    run_cli("--matrix", str(matrix), "--backend", "ray", "--only", "small__*__padding__*",
            "--train-command", fake_train_command(), expect=0)  # fmt: skip
    lines = Path("leaderboard/results.jsonl").read_text().splitlines()
    assert len(lines) == 2  # the training result, then the probed one (same run id)
    (row,) = read_results("leaderboard/results.jsonl")
    assert row.ok and row.metrics["runner"]["backend"] == "ray"
    # the fake trainer leaves no model, so the real probe reports why; that it ran at all is the point
    assert "error" in row.metrics["reliance"] and "probe.log" in row.metrics["reliance"]["error"]
