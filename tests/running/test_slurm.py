"""Slurm job arrays: the paper matrix's scripts (golden), the per-cell task, concurrent records, a real Slurm."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from axolotl_packing_bench.cli import main
from axolotl_packing_bench.matrix.spec import expand, load_matrix
from axolotl_packing_bench.results.store import latest_per_cell, read_results
from axolotl_packing_bench.running import task
from axolotl_packing_bench.running.backends.resources import matrix_resources
from axolotl_packing_bench.running.backends.slurm import render_scripts, slurm_time
from axolotl_packing_bench.running.runner import plan_cells
from tests.running.conftest import fake_train_command

ROOT = Path(__file__).parents[2]
GOLDEN = Path(__file__).parent / "golden"


def paper_text() -> str:
    matrix = load_matrix(ROOT / "recipes" / "matrices" / "paper.yaml")
    plans = plan_cells(expand(matrix), [], runs_dir="runs")
    scripts = render_scripts(
        matrix.name,
        "recipes/matrices/paper.yaml",
        plans,
        matrix_resources(matrix).for_cell,
        python="python",
    )
    return "".join(f"# ---- runs/paper/slurm/{script.name}\n{script.text}\n" for script in scripts)


def test_paper_scripts_match_golden():
    """One array per resource shape: 12 8B cells on 8 GPUs / 512G, 12 70B cells on 8 GPUs / 1024G."""
    golden = GOLDEN / "paper.sbatch"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(paper_text())
    assert paper_text() == golden.read_text()


def test_dry_run_prints_the_scripts_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    runs = tmp_path / "runs"
    outcome = CliRunner().invoke(
        main, ["run", "--matrix", "recipes/matrices/paper.yaml", "--backend", "slurm", "--dry-run",
               "--runs-dir", str(runs), "--results", str(tmp_path / "r.jsonl")],
        catch_exceptions=False,
    )  # fmt: skip
    assert outcome.exit_code == 0
    assert outcome.output.count("#!/bin/bash") == 2
    assert "#SBATCH --array=0-11" in outcome.output and "#SBATCH --gres=gpu:8" in outcome.output
    assert not runs.exists()


def test_fresh_reaches_the_tasks(tmp_path, cpu_matrix, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["run", "--matrix", str(cpu_matrix), "--backend", "slurm", "--dry-run"]
    assert "--fresh" not in CliRunner().invoke(main, args, catch_exceptions=False).output
    fresh = CliRunner().invoke(main, [*args, "--fresh"], catch_exceptions=False).output
    assert "--leaderboard leaderboard/LEADERBOARD.md --fresh\n" in fresh


def test_slurm_time():
    assert slurm_time(90) == "0-00:01:30"
    assert slurm_time(2 * 86400 + 3600) == "2-01:00:00"


def test_scripts_are_written_without_done_cells(tmp_path, cpu_matrix, monkeypatch):
    monkeypatch.chdir(tmp_path)
    results = tmp_path / "results.jsonl"
    cells = expand(load_matrix(cpu_matrix))
    # record one cell as done through the task, then write the scripts
    assert task.main(["--matrix", str(cpu_matrix), "--cell", cells[0].cell_id, "--results", str(results),
                      "--train-command", fake_train_command()]) == 0  # fmt: skip
    outcome = CliRunner().invoke(
        main,
        [
            "run",
            "--matrix",
            str(cpu_matrix),
            "--backend",
            "slurm",
            "--results",
            str(results),
        ],
        catch_exceptions=False,
    )
    assert outcome.exit_code == 0, outcome.output
    (script,) = (tmp_path / "runs" / "hand" / "slurm").glob("*.sbatch")
    text = script.read_text()
    assert cells[0].cell_id not in text and all(cell.cell_id in text for cell in cells[1:])
    assert f"#SBATCH --array=0-{len(cells) - 2}" in text and "--gres" not in text
    assert "1 cells already ok were left out" in outcome.output


def test_submit_without_sbatch_is_one_sentence(tmp_path, cpu_matrix, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    outcome = CliRunner().invoke(main, ["run", "--matrix", str(cpu_matrix), "--backend", "slurm", "--submit"])
    assert outcome.exit_code != 0
    assert "sbatch is not on PATH" in outcome.output and "Traceback" not in outcome.output


def test_task_records_ok_and_failed_and_skips_done(tmp_path, cpu_matrix, monkeypatch):
    monkeypatch.chdir(tmp_path)
    results = tmp_path / "results.jsonl"
    cells = {cell.axes["strategy"] + "/" + cell.axes["model"]: cell for cell in expand(load_matrix(cpu_matrix))}
    command = fake_train_command({"greedy": "crash"}, calls=tmp_path / "calls.txt")
    common = [
        "--matrix",
        str(cpu_matrix),
        "--results",
        str(results),
        "--train-command",
        command,
    ]
    assert task.main([*common, "--cell", cells["padding/small"].cell_id]) == 0
    assert task.main([*common, "--cell", cells["greedy/small"].cell_id]) == 1
    assert task.main([*common, "--cell", cells["padding/small"].cell_id]) == 0  # already ok: skipped
    assert task.main([*common, "--cell", "no-such-cell"]) == 2
    latest = {key[1]: result for key, result in latest_per_cell(read_results(results)).items()}
    assert latest[cells["padding/small"].cell_id].ok
    failed = latest[cells["greedy/small"].cell_id]
    assert failed.status == "failed" and "RuntimeError: boom in greedy" in failed.reason
    assert failed.metrics["runner"]["backend"] == "slurm"
    assert len((tmp_path / "calls.txt").read_text().splitlines()) == 2
    assert (tmp_path / "leaderboard" / "LEADERBOARD.md").exists()


def test_concurrent_tasks_lose_no_result(tmp_path, cpu_matrix):
    """Four array tasks finishing at once on a shared results file: every line lands, the leaderboard lists all."""
    results = tmp_path / "results.jsonl"
    cells = expand(load_matrix(cpu_matrix))[:4]
    command = fake_train_command()
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "axolotl_packing_bench.running.task",
                "--matrix",
                str(cpu_matrix),
                "--cell",
                cell.cell_id,
                "--results",
                str(results),
                "--leaderboard",
                str(tmp_path / "LEADERBOARD.md"),
                "--train-command",
                command,
            ],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
        )
        for cell in cells
    ]
    assert [worker.wait(timeout=240) for worker in workers] == [0, 0, 0, 0]
    lines = results.read_text().splitlines()
    assert len(lines) == 4 and all(json.loads(line)["status"] == "ok" for line in lines)
    assert "4 runs" in (tmp_path / "LEADERBOARD.md").read_text()


# ---------------------------------------------------------------- a real single-node Slurm

SLURM_CONF = """\
ClusterName=packbench
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={state}/ctld
SlurmdSpoolDir={state}/d
SlurmctldPidFile={state}/slurmctld.pid
SlurmdPidFile={state}/slurmd.pid
SlurmctldLogFile={state}/slurmctld.log
SlurmdLogFile={state}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=localhost CPUs={cpus} RealMemory=2000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


def _slurm_usable() -> str | None:
    for tool in ("sbatch", "slurmctld", "slurmd", "munged"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            return f"{tool} is not installed (apt-get install -y slurm-wlm)"
    if os.geteuid() != 0:
        return "starting slurmctld/slurmd needs root"
    return None


@pytest.fixture
def local_slurm(tmp_path_factory):
    """slurmctld + slurmd on localhost with a minimal slurm.conf; yields the environment to reach it."""
    reason = _slurm_usable()
    if reason:
        pytest.skip(reason)
    state = tmp_path_factory.mktemp("slurm")
    for name in ("ctld", "d"):
        (state / name).mkdir()
    conf = state / "slurm.conf"
    conf.write_text(SLURM_CONF.format(state=state, cpus=os.cpu_count() or 1))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    started: list[subprocess.Popen] = []
    munged_pid: Path | None = None
    try:
        if subprocess.run(["pgrep", "-x", "munged"], capture_output=True, check=False).returncode != 0:
            munged_pid = state / "munged.pid"
            key = Path("/etc/munge/munge.key")
            if not key.exists():
                subprocess.run(["/usr/sbin/mungekey", "--create"], check=True)
            Path("/run/munge").mkdir(parents=True, exist_ok=True)
            subprocess.run(["/usr/sbin/munged", "--force", f"--pid-file={munged_pid}"], check=True)
        started.append(
            subprocess.Popen(
                ["/usr/sbin/slurmctld", "-D", "-i", "-f", str(conf)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        started.append(
            subprocess.Popen(
                ["/usr/sbin/slurmd", "-D", "-f", str(conf)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            shown = subprocess.run(
                ["sinfo", "-h", "-o", "%t"],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if shown.returncode == 0 and shown.stdout.strip() in (
                "idle",
                "mix",
                "alloc",
            ):
                break
            time.sleep(1)
        else:
            pytest.skip("the local slurmctld/slurmd did not come up within 60 s")
        yield env
    finally:
        for process in reversed(started):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        if munged_pid is not None and munged_pid.exists():  # the munged this fixture started
            os.kill(int(munged_pid.read_text().split()[0]), 15)


@pytest.mark.slow
def test_real_slurm_array_records_every_cell(tmp_path, local_slurm, monkeypatch):
    matrix = tmp_path / "two.yaml"
    matrix.write_text(
        "name: two\nbase: {sequence_len: 256, micro_batch_size: 2, num_epochs: 1, learning_rate: 1.0e-4}\n"
        "axes:\n  model: [{name: small, path: /models/small, size: 1B}]\n"
        "  dataset: [{name: chats, size: 1K, datasets: [{path: /data/chats.jsonl, ds_type: json, "
        "type: chat_template}]}]\n"
        "  strategy: [padding, greedy]\n  attention: [isolated]\n"
        "resources:\n  default: {cpus: 1, gpus: 0, memory: 500M, time: 5m}\n"
    )
    for key, value in local_slurm.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    results = tmp_path / "results.jsonl"
    outcome = CliRunner().invoke(
        main, ["run", "--matrix", str(matrix), "--backend", "slurm", "--submit", "--results", str(results),
               "--train-command", fake_train_command()],
        catch_exceptions=False,
    )  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    assert "submitted" in outcome.output
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and (not results.exists() or len(results.read_text().splitlines()) < 2):
        time.sleep(1)
    outs = "".join(path.read_text() for path in (tmp_path / "runs" / "two" / "slurm").glob("*.out"))
    assert results.exists() and len(read_results(results)) == 2, outs
    assert all(result.ok and result.metrics["runner"]["backend"] == "slurm" for result in read_results(results))
    shown = CliRunner().invoke(
        main,
        ["status", "--matrix", str(matrix), "--results", str(results)],
        catch_exceptions=False,
    )
    assert "2 cells: 2 ok" in shown.output


def test_task_runs_the_matrix_probes_after_recording_and_counts_repeats(tmp_path, cpu_matrix, monkeypatch):
    import dataclasses

    from axolotl_packing_bench.probes import registry as probe_registry

    monkeypatch.chdir(tmp_path)
    # the reliance probe's name and settings, with a run that only says where it ran (through the probe seam)
    fake = dataclasses.replace(
        probe_registry.get_probe("reliance"), run=lambda run_dir, settings: {"effects": {"run_dir": run_dir.name}}
    )
    monkeypatch.setitem(probe_registry._LOADED, "reliance", fake)
    matrix = tmp_path / "probed.yaml"
    matrix.write_text(cpu_matrix.read_text() + "probes:\n  reliance: {max_questions: 2}\n")
    cell = expand(load_matrix(matrix))[0]
    results = tmp_path / "results.jsonl"
    common = [
        "--matrix",
        str(matrix),
        "--results",
        str(results),
        "--train-command",
        fake_train_command(),
        "--cell",
        cell.cell_id,
    ]
    assert task.main([*common, "--repeat", "1"]) == 0
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    assert [("reliance" in line["metrics"], line["repeat"]) for line in lines] == [(False, 1), (True, 1)]
    assert lines[1]["metrics"]["reliance"] == {"effects": {"run_dir": f"{cell.cell_id}.repeat1"}}
    assert task.main([*common, "--repeat", "1"]) == 0 and len(results.read_text().splitlines()) == 2  # done: skipped
    assert (
        task.main([*common, "--repeat", "0"]) == 0 and len(results.read_text().splitlines()) == 4
    )  # repeat 0 still to do


def test_repeats_become_array_tasks():
    from axolotl_packing_bench.running.runner import plan_cells as plan

    matrix = load_matrix(ROOT / "recipes" / "matrices" / "paper.yaml")
    plans = plan(expand(matrix)[:2], [], runs_dir="runs", repeats=2)
    (script,) = render_scripts(matrix.name, "m.yaml", plans, matrix_resources(matrix).for_cell, python="python")
    assert script.repeats == (0, 0, 1, 1)
    assert "#SBATCH --array=0-3" in script.text and "REPEATS=(0 0 1 1)" in script.text
    assert '--repeat "${REPEATS[$SLURM_ARRAY_TASK_ID]}"' in script.text
