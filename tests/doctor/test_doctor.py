"""`packbench doctor` on the CPU shape: isolated paths isolate, the shared control leaks, a leak fails the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from axolotl_packing_bench.cli import main

FAST = ["--device", "cpu", "--shape", "cpu", "--layers", "1", "--isolation-rows", "1", "--warmup", "1", "--steps", "1"]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: the tiny model gains nothing from more, and on a busy machine they fight."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def doctor(tmp_path, *extra: str):
    json_path, markdown_path = tmp_path / "doctor.json", tmp_path / "doctor.md"
    result = CliRunner().invoke(
        main, ["doctor", *FAST, "--json", str(json_path), "--markdown", str(markdown_path), *extra]
    )
    return result, json_path, markdown_path


@pytest.fixture(scope="module")
def leaking_run(tmp_path_factory):
    """One run with the deliberately leaking path added (the other paths are checked in the same run)."""
    return doctor(tmp_path_factory.mktemp("doctor"), "--inject-leak")


def test_every_isolated_path_isolates_and_the_shared_control_leaks(tmp_path):
    result, json_path, markdown_path = doctor(tmp_path)
    assert result.exit_code == 0, result.output
    findings = json.loads(json_path.read_text())
    by_path = {item["path"]: item for item in findings["isolation"]}
    assert {"eager", "sdpa", "packbench_sdpa_varlen", "shared"} <= set(by_path)
    for name, item in by_path.items():
        assert item["segments"] >= 2, name
        if item["isolated"]:
            assert item["max_abs_delta"] <= item["tolerance"] == pytest.approx(1e-4 * item["logit_scale"]), name
        else:
            assert item["max_abs_delta"] > 100 * item["tolerance"], name
    assert findings["failures"] == []
    assert findings["shape"]["dtype"] == "float32" and findings["shape"]["row_tokens"] == 512
    assert findings["packing"]["strategy"] == "bfd" and findings["packing"]["efficiency"] > 0.95

    timed = {item["path"]: item for item in findings["throughput"]}
    assert set(timed) == {"padding", "eager", "sdpa", "packbench_sdpa_varlen"}
    assert len({item["real_tokens_per_step"] for item in timed.values()}) == 1  # the same samples on every path
    assert timed["padding"]["computed_tokens_per_step"] > timed["padding"]["real_tokens_per_step"]
    assert all(item["real_tokens_per_second"] > 0 and item["steps"] == 1 for item in timed.values())
    assert timed["packbench_sdpa_varlen"]["kernels"] == {"sdpa_loop": 2}  # 2 steps of 1 row, 1 layer: the CPU loop

    table = markdown_path.read_text()
    assert table == result.stdout
    assert "| packbench_sdpa_varlen | isolated |" in table and "| shared | shared |" in table
    assert "torch 2." in table and "transformers " in table and "hidden 64, 1 layers" in table
    assert "Verdict: every isolated path isolates" in table


def test_a_leaking_path_fails_the_run_and_the_findings_are_still_written(leaking_run):
    result, json_path, markdown_path = leaking_run
    assert result.exit_code == 1
    findings = json.loads(json_path.read_text())
    leaking = next(item for item in findings["isolation"] if item["path"] == "sdpa+2d_mask")
    assert leaking["isolated"] and leaking["leaks"] and not leaking["passed"]
    assert [line.split(" leaks")[0] for line in findings["failures"]] == ["sdpa+2d_mask"]
    assert all(item["passed"] for item in findings["isolation"] if item["path"] != "sdpa+2d_mask")
    assert "| sdpa+2d_mask | isolated |" in markdown_path.read_text() and "LEAKS" in markdown_path.read_text()
    assert "packbench doctor: sdpa+2d_mask leaks" in result.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--device", "cuda"], "--device cuda: torch sees no CUDA device here"),
        (["--device", "cpu", "--hidden", "60", "--heads", "8"], "the hidden size must be a multiple of the heads"),
    ],
)
def test_bad_input_is_one_sentence_and_exit_2(args, says):
    import torch

    if args[1] == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = CliRunner().invoke(main, ["doctor", *args])
    assert result.exit_code == 2
    assert says in result.output and "Traceback" not in result.output


def test_the_doctor_path_imports_without_axolotl():
    code = (
        "import sys\n"
        "import axolotl_packing_bench.plugin.rows, axolotl_packing_bench.plugin.collator\n"
        "import axolotl_packing_bench.plugin.segment_attention, axolotl_packing_bench.plugin.native_varlen\n"
        "import axolotl_packing_bench.doctor.check, axolotl_packing_bench.doctor.isolation\n"
        "import axolotl_packing_bench.doctor.throughput, axolotl_packing_bench.doctor.report\n"
        "import axolotl_packing_bench.cli.doctor\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'axolotl', 'datasets', 'pydantic', 'accelerate'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_the_checkout_script_runs_the_doctor(tmp_path):
    script = Path(__file__).parents[2] / "benchmarks" / "gpu_check.py"
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, str(script), "--help"], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    assert "Usage: gpu_check.py doctor [OPTIONS]" in result.stdout and "--markdown" in result.stdout
