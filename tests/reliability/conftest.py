"""Fixtures of the reliability suite: a results file with rows, its board, a hand-trained run, a snapshot."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from axolotl_packing_bench.cli import main

GOLDEN_RESULTS = Path(__file__).parents[1] / "support" / "golden" / "results.jsonl"


def invoke(*args: str):
    """`packbench ARGS` in process; the result has exit_code and output (stdout and stderr)."""
    return CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=False)


def snapshot(*paths: Path) -> dict[str, tuple[bytes, int] | None]:
    """Bytes and mode of each path (None when missing): what must not change."""
    state: dict[str, tuple[bytes, int] | None] = {}
    for path in paths:
        state[str(path)] = (path.read_bytes(), os.stat(path).st_mode) if path.is_file() else None
    return state


def one_sentence(output: str) -> str:
    """The error line of a refused command, checked to be one line with no traceback."""
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, output
    return lines[0]


@pytest.fixture
def results_file(tmp_path: Path) -> Path:
    path = tmp_path / "lb" / "results.jsonl"
    path.parent.mkdir()
    shutil.copyfile(GOLDEN_RESULTS, path)
    return path


@pytest.fixture
def board_file(results_file: Path) -> Path:
    board = results_file.parent / "LEADERBOARD.md"
    result = invoke("leaderboard", "--results", results_file, "--leaderboard", board)
    assert result.exit_code == 0, result.output
    return board


@pytest.fixture
def hand_run(tmp_path: Path) -> Path:
    run_dir = tmp_path / "my-run"
    run_dir.mkdir()
    metrics = {
        "schema_version": 1,
        "run_id": "hand1",
        "status": "ok",
        "strategy": "bfd",
        "attention": "isolated",
        "capacity": 512,
        "model": {"path": "/cache/models/tiny-8b", "parameters": 1_234_567},
        "dataset": {"paths": ["/cache/datasets/synth-69k-seed0.jsonl"], "samples": 690, "real_tokens": 84_000},
        "packing": {"rows": 120, "lower_bound": 118, "efficiency": 0.98},
        "training": {"steps": 30, "runtime_s": 12.3, "final_train_loss": 5.1},
    }
    (run_dir / "packbench_metrics.json").write_text(json.dumps(metrics))
    return run_dir
