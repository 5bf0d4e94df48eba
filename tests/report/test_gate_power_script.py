"""benchmarks/gate_power.py judges rounds by both rules and counts false alarms and catches."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from tests.report.test_compare_gate import repeats, write

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gate_power.py"


def load_script():
    spec = importlib.util.spec_from_file_location("gate_power", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_rejudge_counts_false_alarms_and_catches(tmp_path):
    rounds = tmp_path / "rounds"
    rounds.mkdir()
    for number in (1, 2):
        write(rounds / f"r{number}-a.jsonl", repeats(seed=10 * number))
        write(rounds / f"r{number}-b.jsonl", repeats(seed=10 * number + 1))
        write(rounds / f"r{number}-s.jsonl", repeats(1.5, seed=10 * number + 2))
    out = tmp_path / "out"
    assert load_script().main(["--rejudge", str(rounds), "--label", "test", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["table"]["null"] == {"rounds": 2, "gate_fails": 0, "minmax_fails": 0}
    assert summary["table"]["one-thread"] == {"rounds": 2, "gate_fails": 2, "minmax_fails": 2}
    assert "| null | 2 | 0/2 | 0/2 |" in (out / "summary.md").read_text()
    assert (out / "r1-one-thread.compare.md").read_text().endswith("verdict: fail\n")


def test_without_step_times_falls_back_to_min_max():
    module = load_script()
    stripped = module.without_step_times(repeats())
    assert all("step_times_s" not in run.metrics["training"] for run in stripped)
    assert all("median_step_s" in run.metrics["training"] for run in stripped)
