"""RunResult JSON, the append-only results file, torn lines and concurrent appends."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from axolotl_packing_bench.core.fileio import append_line, atomic_write_text, read_lines
from axolotl_packing_bench.results.store import (
    SCHEMA_VERSION,
    ResultsError,
    RunResult,
    append_result,
    done_cells,
    latest_per_cell,
    read_results,
    redact,
)


def result(run_id: str = "r1", cell_id: str = "c1", status: str = "ok", **extra) -> RunResult:
    return RunResult(run_id=run_id, cell_id=cell_id, matrix=extra.pop("matrix", "m"), status=status, **extra)


class TestRunResult:
    def test_round_trip(self):
        original = result(
            reason=None,
            axes={"model": "a", "strategy": "bfd"},
            labels={"model_size": "8B", "dataset_size": None},
            metrics={"training": {"runtime_s": 1.5}},
            scores={"mmlu": 61.2},
            judge={"win_rate": 0.5},
            recorded_at="2026-01-01T00:00:00+00:00",
            log="runs/m/c1/train.log",
        )
        line = original.to_json()
        assert "\n" not in line
        data = json.loads(line)
        assert list(data)[:5] == ["schema_version", "run_id", "cell_id", "matrix", "status"]
        assert data["schema_version"] == SCHEMA_VERSION
        assert RunResult.from_json(line) == original

    def test_metric_path(self):
        assert result(metrics={"training": {"steps": 3}}).metric("training", "steps") == 3
        assert result(metrics={"training": None}).metric("training", "steps") is None

    def test_newer_schema_is_refused(self):
        with pytest.raises(ResultsError, match="newer than this packbench"):
            RunResult.from_json(
                json.dumps(
                    {"schema_version": SCHEMA_VERSION + 1, "run_id": "x", "cell_id": "c", "matrix": "m", "status": "ok"}
                )
            )

    @pytest.mark.parametrize("line", ["{not json", "[]", '{"run_id": "x"}', '{"schema_version": 1, "run_id": "x"}'])
    def test_bad_lines_are_refused(self, line):
        with pytest.raises(ResultsError):
            RunResult.from_json(line)

    def test_unknown_status_is_refused(self):
        with pytest.raises(ResultsError):
            result(status="done")

    def test_secrets_are_redacted(self):
        line = result(
            status="failed",
            reason="auth failed for hf_abcdefghijklmnopqrstuvwxyz123 with OPENAI_API_KEY=sk-abcdefghijklmnopqrstuvwxyz",
        ).to_json()
        assert "hf_abc" not in line and "sk-abc" not in line and "[REDACTED]" in line
        assert redact("loss 5.1") == "loss 5.1"


class TestResultsFile:
    def test_append_and_read(self, tmp_path):
        path = tmp_path / "lb" / "results.jsonl"
        append_result(path, result("a"))
        append_result(path, result("b", cell_id="c2"))
        assert [r.run_id for r in read_results(path)] == ["a", "b"]
        assert read_results(tmp_path / "missing.jsonl") == []

    def test_same_run_id_keeps_the_latest(self, tmp_path):
        path = tmp_path / "results.jsonl"
        append_result(path, result("a", metrics={"v": 1}))
        append_result(path, result("b", cell_id="c2"))
        append_result(path, result("a", metrics={"v": 2}))
        rows = read_results(path)
        assert [(r.run_id, r.metrics.get("v")) for r in rows] == [("b", None), ("a", 2)]
        assert len(path.read_text().splitlines()) == 3  # append-only on disk

    def test_torn_last_line_is_skipped_then_repaired(self, tmp_path, capsys):
        path = tmp_path / "results.jsonl"
        append_result(path, result("a"))
        with open(path, "a") as handle:
            handle.write(result("torn").to_json()[:40])  # a writer died mid-line
        assert [r.run_id for r in read_results(path)] == ["a"]
        append_result(path, result("b"))
        assert [r.run_id for r in read_results(path)] == ["a", "b"]
        assert "skipped 1 unreadable line" in capsys.readouterr().err
        assert all(line for line in path.read_text().split("\n")[:-1])

    def test_latest_per_cell_and_done_cells(self):
        rows = [
            result("1", "c1"),
            result("2", "c1", status="failed"),
            result("3", "c2"),
            result("4", "c3", matrix="other"),
        ]
        latest = latest_per_cell(rows)
        assert latest[("m", "c1")].run_id == "2"
        assert done_cells(rows, "m") == {"c2"}

    def test_concurrent_appends_lose_nothing(self, tmp_path):
        path = tmp_path / "results.jsonl"
        script = textwrap.dedent(
            f"""
            import sys
            from axolotl_packing_bench.results.store import RunResult, append_result
            worker = sys.argv[1]
            for i in range(50):
                append_result({str(path)!r}, RunResult(run_id=f"{{worker}}-{{i}}", cell_id="c" * 500, """
            f"""\
matrix="m", status="ok",
                              metrics={{"pad": "x" * 3000}}))
            """
        )
        workers = [subprocess.Popen([sys.executable, "-c", script, str(n)]) for n in range(4)]
        assert all(worker.wait(timeout=120) == 0 for worker in workers)
        lines = path.read_text().splitlines()
        assert len(lines) == 200
        assert all(json.loads(line)["cell_id"] == "c" * 500 for line in lines)
        assert {r.run_id for r in read_results(path)} == {f"{w}-{i}" for w in range(4) for i in range(50)}


def test_atomic_write_leaves_no_temp_file_on_error(tmp_path):
    target = tmp_path / "LEADERBOARD.md"
    atomic_write_text(target, "old")

    with pytest.raises(TypeError):
        atomic_write_text(target, 12345)  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["LEADERBOARD.md"]


def test_append_line_refuses_newlines(tmp_path):
    with pytest.raises(ValueError):
        append_line(tmp_path / "x", "a\nb")
    assert read_lines(tmp_path / "x") == []
