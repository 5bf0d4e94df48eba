"""`--format json` of compare, leaderboard and status: the schema CI reads, and --output's safety."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from click.testing import CliRunner

from axolotl_packing_bench.cli import main
from tests.cli.test_run import FAKE, MATRIX
from tests.report.test_compare_gate import VERSIONS_NEW, repeats, write

NUMBER_OR_NULL = {"type": ["number", "null"]}
SERIES = {
    "type": "object",
    "required": ["median", "n", "values"],
    "properties": {
        "median": NUMBER_OR_NULL,
        "n": {"type": "integer"},
        "values": {"type": "array", "items": NUMBER_OR_NULL},
    },
}
PAIR = {
    "type": "object",
    "required": ["baseline", "candidate"],
    "properties": {"baseline": SERIES, "candidate": SERIES},
}
COMPARE_SCHEMA = {
    "type": "object",
    "required": [
        "schema_version",
        "kind",
        "verdict",
        "exit_code",
        "compared_cells",
        "rule",
        "versions",
        "refusals",
        "loaded_runs",
        "spread_unknown",
        "seed_problems",
        "cells",
    ],
    "properties": {
        "kind": {"const": "packbench-compare"},
        "verdict": {"enum": ["pass", "fail"]},
        "exit_code": {"enum": [0, 1]},
        "rule": {"type": "object", "required": ["text", "max_slowdown", "heldout_tolerance", "min_repeats_for_spread"]},
        "versions": {
            "type": "object",
            "required": ["baseline", "candidate"],
            "properties": {
                "baseline": {"type": "array", "items": {"type": "string"}},
                "candidate": {"type": "array", "items": {"type": "string"}},
            },
        },
        "cells": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "cell_id",
                    "verdict",
                    "rule",
                    "repeats",
                    "spread",
                    "paired_steps",
                    "time",
                    "ratio_to_padding",
                    "efficiency",
                    "heldout_loss",
                    "equivalence",
                    "last_step_train_loss",
                    "versions",
                    "problems",
                ],
                "properties": {
                    "verdict": {"enum": ["ok", "REGRESSION", "new", "missing"]},
                    "rule": {"enum": ["paired-steps", "min-max"]},
                    "spread": NUMBER_OR_NULL,
                    "paired_steps": {
                        "oneOf": [
                            {"type": "null"},
                            {"type": "object", "required": ["slowdown", "low", "high", "steps", "repeats"]},
                        ]
                    },
                    "time": PAIR,
                    "ratio_to_padding": PAIR,
                    "efficiency": PAIR,
                    "heldout_loss": PAIR,
                    "last_step_train_loss": PAIR,
                    "problems": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}
FIGURE = {"type": "object", "required": ["median", "spread", "n", "values", "unreadable"]}
CELL = {
    "type": "object",
    "required": ["cell_id", "figures", "unreadable", "loaded", "versions", "repeats", "repeats_ok"],
    "properties": {"figures": {"type": "object", "additionalProperties": FIGURE}},
}
LEADERBOARD_SCHEMA = {
    "type": "object",
    "required": ["schema_version", "kind", "verdict", "rule", "cells"],
    "properties": {
        "kind": {"const": "packbench-leaderboard"},
        "verdict": {"enum": ["pass", "fail"]},
        "cells": {"type": "array", "items": CELL},
    },
}
STATUS_SCHEMA = {
    "type": "object",
    "required": ["schema_version", "kind", "matrix", "verdict", "counts", "cells"],
    "properties": {
        "kind": {"const": "packbench-status"},
        "verdict": {"enum": ["pass", "fail"]},
        "cells": {"type": "array", "items": {**CELL, "required": [*CELL["required"], "state"]}},
    },
}


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_compare_json_pass_and_fail(tmp_path):
    base = write(tmp_path / "base.jsonl", repeats())
    same = write(tmp_path / "same.jsonl", repeats(seed=1, versions=VERSIONS_NEW))
    slow = write(tmp_path / "slow.jsonl", repeats(1.4, seed=1))
    passed = invoke("compare", "--baseline", str(base), "--candidate", str(same), "--format", "json")
    assert passed.exit_code == 0
    data = json.loads(passed.output)
    jsonschema.validate(data, COMPARE_SCHEMA)
    assert data["verdict"] == "pass" and data["compared_cells"] == 2 and data["rule"]["max_slowdown"] == 0.15
    assert data["versions"]["candidate"] == ["axolotl 0.21.0, torch 2.14.0+cpu, transformers 5.18.0, python 3.12.1"]
    assert {cell["rule"] for cell in data["cells"]} == {"paired-steps"}
    failed = invoke(
        "compare",
        "--baseline",
        str(base),
        "--candidate",
        str(slow),
        "--format",
        "json",
        "--output",
        str(tmp_path / "r.json"),
    )
    assert failed.exit_code == 1
    assert failed.output == f"compare: fail (2 compared cell(s)); report in {tmp_path / 'r.json'}\n"
    report = json.loads((tmp_path / "r.json").read_text())
    jsonschema.validate(report, COMPARE_SCHEMA)
    assert (
        report["verdict"] == "fail" and report["exit_code"] == 1 and all(cell["problems"] for cell in report["cells"])
    )


def test_output_never_overwrites_a_results_file(tmp_path):
    base = write(tmp_path / "base.jsonl", repeats())
    before = base.read_bytes()
    result = invoke(
        "compare", "--baseline", str(base), "--candidate", str(base), "--format", "json", "--output", str(base)
    )
    assert (
        result.exit_code == 2
        and result.output == f"Error: --output {base} holds results JSONL; write the report to another file.\n"
    )
    assert base.read_bytes() == before


def test_leaderboard_json(tmp_path):
    results = write(tmp_path / "r.jsonl", repeats())
    board = tmp_path / "L.md"
    result = invoke("leaderboard", "--results", str(results), "--leaderboard", str(board), "--format", "json")
    assert result.exit_code == 0 and not board.exists()
    data = json.loads(result.output)
    jsonschema.validate(data, LEADERBOARD_SCHEMA)
    assert data["verdict"] == "pass" and [cell["cell_id"] for cell in data["cells"]] == ["bfd", "pad"]
    assert (
        data["cells"][0]["figures"]["heldout_loss"]["median"] == 3.25
        and data["cells"][0]["figures"]["runtime_s"]["spread"] is not None
    )
    assert invoke("leaderboard", "--results", str(results), "--format", "json", "--check").exit_code == 2


def test_status_json(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.yaml").write_text(MATRIX)
    monkeypatch.setenv("FAKE_TRAIN_PLAN", json.dumps({"greedy": "crash"}))
    invoke(
        "run", "--matrix", "m.yaml", "--train-command", FAKE, "--only", "strategy=padding", "--only", "strategy=greedy"
    )
    result = invoke("status", "--matrix", "m.yaml", "--format", "json", "--output", "status.json")
    assert result.exit_code == 0, result.output
    data = json.loads(Path("status.json").read_text())
    jsonschema.validate(data, STATUS_SCHEMA)
    assert data["verdict"] == "fail" and data["counts"] == {"ok": 1, "failed": 1, "pending": 1}
    assert sorted(cell["state"] for cell in data["cells"]) == ["failed", "ok", "pending"]


def test_an_unwritable_output_is_one_sentence(tmp_path):
    base = write(tmp_path / "base.jsonl", repeats())
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = invoke(
        "compare",
        "--baseline",
        str(base),
        "--candidate",
        str(base),
        "--format",
        "json",
        "--output",
        str(blocker / "r.json"),
    )
    assert result.exit_code == 2
    assert (
        result.output.startswith(f"Error: cannot write --output {blocker / 'r.json'} (")
        and "Traceback" not in result.output
    )
    assert result.output.endswith("choose a writable path with free space.\n")
