"""`packbench eval`: lm-eval through the CLI, scores into results and leaderboard; bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from axolotl_packing_bench.cli import main
from tests.eval.helpers import make_run


def run(*args: str):
    return CliRunner().invoke(main, ["eval", *args], catch_exceptions=False)


def test_help_is_instant_and_lists_presets():
    result = run("--help")
    assert (
        result.exit_code == 0
        and "--preset [offline|paper]" in result.output
        and "--num-fewshot TASK=K" in result.output
    )


def test_help_imports_nothing_heavy():
    code = (
        "import sys, json\n"
        "from click.testing import CliRunner\n"
        "from axolotl_packing_bench.cli import main\n"
        "for name in ('eval', 'judge'):\n"
        "    assert CliRunner().invoke(main, [name, '--help']).exit_code == 0\n"
        "print(json.dumps(sorted(m for m in ('torch', 'transformers', 'lm_eval', 'openai', 'datasets') "
        "if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []


@pytest.mark.slow
def test_scores_reach_results_and_leaderboard(tiny_model: Path, tmp_path: Path):
    pytest.importorskip("lm_eval")
    from axolotl_packing_bench.results.store import read_results

    run_dir = make_run(tmp_path / "runs", tiny_model, name="greedy", strategy="greedy")
    results, board = tmp_path / "lb" / "results.jsonl", tmp_path / "lb" / "LEADERBOARD.md"
    result = run(
        str(run_dir),
        "--tasks",
        "packbench_facts_fewshot",
        "--num-fewshot",
        "packbench_facts_fewshot=2",
        "--limit",
        "4",
        "--batch-size",
        "4",
        "--results",
        str(results),
        "--leaderboard",
        str(board),
    )
    assert result.exit_code == 0, result.output
    assert "packbench_facts_fewshot" in result.output and "added scores of run run-greedy" in result.output
    (row,) = read_results(results)
    entry = row.scores["packbench_facts_fewshot"]
    assert entry["metric"] == "acc" and entry["n"] == 4 and entry["shots"] == 2 and 0 <= entry["value"] <= 1
    assert (
        row.axes["strategy"] == "greedy" and row.metrics["training"]["runtime_s"] == 12.0
    )  # recorded as `record` would
    report = json.loads((run_dir / "packbench_scores.json").read_text())
    assert report["scores"] == row.scores and report["run_id"] == "run-greedy" and report["limit"] == 4
    assert "packbench_facts_fewshot" in board.read_text()


def one_sentence_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    message = result.output.strip()
    assert message.startswith("Error: ") and message.count("\n") == 0 and message.endswith("."), message
    assert "Traceback" not in message
    for fragment in fragments:
        assert fragment in message, message


def test_missing_run_dir(tmp_path: Path):
    one_sentence_error(run(str(tmp_path / "nope")), "does not exist", "output_dir")


def test_run_dir_without_a_model(tiny_model: Path, tmp_path: Path):
    run_dir = make_run(tmp_path, tiny_model, name="metrics-only", model=False)
    one_sentence_error(run(str(run_dir)), "holds no saved model")


def test_unknown_task(tiny_model: Path, tmp_path: Path):
    pytest.importorskip("lm_eval")
    run_dir = make_run(tmp_path, tiny_model, name="pad")
    one_sentence_error(
        run(str(run_dir), "--tasks", "packbench_facts_0shto", "--results", str(tmp_path / "r.jsonl")),
        "unknown lm-eval task 'packbench_facts_0shto' (did you mean 'packbench_facts_0shot'?)",
    )
    assert not (tmp_path / "r.jsonl").exists()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--limit", "0"], "--limit '0'"),
        (["--limit", "2.5"], "--limit '2.5'"),
        (["--num-fewshot", "mmlu"], "is not TASK=K"),
        (["--num-fewshot", "mmlu=5"], "mmlu, which is not among the tasks"),
        (["--tasks", ","], "names no task"),
        (["--batch-size", "big"], "--batch-size 'big'"),
    ],
)
def test_bad_options(tiny_model: Path, tmp_path: Path, args: list[str], fragment: str):
    run_dir = make_run(tmp_path, tiny_model, name="pad")
    one_sentence_error(run(str(run_dir), *args), fragment)
