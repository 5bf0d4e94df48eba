"""`packbench record`, `packbench leaderboard` and `packbench compare`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from axolotl_packing_bench.cli import main
from axolotl_packing_bench.results.store import RunResult, append_result, read_results

GOLDEN_RESULTS = Path(__file__).parents[1] / "support" / "golden" / "results.jsonl"


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def metrics(run_id: str = "abc123", strategy: str = "bfd", status: str = "ok") -> dict:
    return {
        "schema_version": 1,
        "run_id": run_id,
        "status": status,
        "error": None if status == "ok" else "RuntimeError: out of memory",
        "strategy": strategy,
        "attention": "isolated",
        "capacity": 512,
        "model": {"path": "/cache/models/tiny-8b", "parameters": 1_234_567},
        "dataset": {"paths": ["/cache/datasets/synth-69k-seed0.jsonl"], "samples": 690, "real_tokens": 84_000},
        "packing": {"rows": 120, "lower_bound": 118, "efficiency": 0.98},
        "training": {
            "steps": 30,
            "epochs": 1.0,
            "runtime_s": 12.3,
            "samples_per_s": 56.1,
            "real_tokens_per_s": 10034.0,
            "final_train_loss": 5.1,
        },
    }


@pytest.fixture
def hand_run(tmp_path) -> Path:
    run_dir = tmp_path / "my-run"
    run_dir.mkdir()
    (run_dir / "packbench_metrics.json").write_text(json.dumps(metrics()))
    return run_dir


class TestRecord:
    def test_record_adds_one_row_and_renders(self, tmp_path, hand_run):
        results, board = tmp_path / "lb/results.jsonl", tmp_path / "lb/LEADERBOARD.md"
        result = invoke("record", str(hand_run), "--results", str(results), "--leaderboard", str(board))
        assert result.exit_code == 0, result.output
        (row,) = read_results(results)
        assert row.run_id == "abc123" and row.matrix == "hand" and row.ok
        assert row.cell_id.startswith("tiny-8b__synth-69k-seed0__bfd__isolated-")
        assert row.axes == {
            "model": "tiny-8b",
            "dataset": "synth-69k-seed0",
            "strategy": "bfd",
            "attention": "isolated",
        }
        assert row.labels == {"model_size": "1.23M", "dataset_size": "690"}
        assert "### synth-69k-seed0 (690) × tiny-8b (1.23M)" in board.read_text()

    def test_recording_twice_keeps_one_row(self, tmp_path, hand_run):
        args = ("--results", str(tmp_path / "r.jsonl"), "--leaderboard", str(tmp_path / "L.md"))
        invoke("record", str(hand_run), *args)
        first_board = (tmp_path / "L.md").read_text()
        invoke("record", str(hand_run), *args)
        assert len(read_results(tmp_path / "r.jsonl")) == 1
        assert (tmp_path / "L.md").read_text() == first_board

    def test_same_cell_from_another_machine(self, tmp_path, hand_run):
        args = ("--results", str(tmp_path / "r.jsonl"), "--leaderboard", str(tmp_path / "L.md"))
        invoke("record", str(hand_run), *args)
        other = tmp_path / "other"
        other.mkdir()
        moved = metrics(run_id="def456")
        moved["model"]["path"] = "/home/me/tiny-8b"
        (other / "packbench_metrics.json").write_text(json.dumps(moved))
        invoke("record", str(other), *args, "--model", "tiny-8b")
        rows = read_results(tmp_path / "r.jsonl")
        assert len(rows) == 2 and rows[0].cell_id == rows[1].cell_id

    def test_output_dir_layout_and_failed_runs(self, tmp_path):
        run_dir = tmp_path / "cell"
        (run_dir / "output").mkdir(parents=True)
        (run_dir / "output/packbench_metrics.json").write_text(json.dumps(metrics(status="failed")))
        (run_dir / "train.log").write_text("log")
        invoke("record", str(run_dir), "--results", str(tmp_path / "r.jsonl"), "--leaderboard", str(tmp_path / "L.md"))
        (row,) = read_results(tmp_path / "r.jsonl")
        assert row.status == "failed" and row.reason == "RuntimeError: out of memory"
        assert row.log == str(run_dir / "train.log")

    @pytest.mark.parametrize("given", ["cell", "cell/output"])
    def test_a_metrics_file_named_by_the_recipe_is_found(self, tmp_path, given):
        run_dir = tmp_path / "cell"
        (run_dir / "output").mkdir(parents=True)
        (run_dir / "recipe.yml").write_text(f"output_dir: {run_dir}/output\npackbench_metrics_file: run.json\n")
        (run_dir / "output/run.json").write_text(json.dumps(metrics(run_id="named")))
        result = invoke(
            "record",
            str(tmp_path / given),
            "--results",
            str(tmp_path / "r.jsonl"),
            "--leaderboard",
            str(tmp_path / "L.md"),
        )
        assert result.exit_code == 0, result.output
        (row,) = read_results(tmp_path / "r.jsonl")
        assert row.run_id == "named" and row.ok

    def test_a_missing_named_metrics_file_is_named(self, tmp_path):
        (tmp_path / "recipe.yml").write_text("packbench_metrics_file: run.json\n")
        result = invoke("record", str(tmp_path), "--results", str(tmp_path / "r.jsonl"))
        assert result.exit_code == 2 and result.output.startswith(f"Error: {tmp_path} has no run.json;")

    def test_missing_metrics_is_one_sentence(self, tmp_path):
        result = invoke("record", str(tmp_path), "--results", str(tmp_path / "r.jsonl"))
        assert result.exit_code == 2
        assert result.output.strip() == (
            f"Error: {tmp_path} has no packbench_metrics.json; train with "
            "`plugins: [axolotl_packing_bench.PackingBenchPlugin]` and pass the run's output_dir."
        )
        assert not (tmp_path / "r.jsonl").exists()

    def test_missing_directory_and_bad_json(self, tmp_path):
        assert "does not exist" in invoke("record", str(tmp_path / "nope")).output
        (tmp_path / "packbench_metrics.json").write_text("{torn")
        result = invoke("record", str(tmp_path))
        assert result.exit_code == 2 and "is not valid JSON" in result.output


class TestLeaderboard:
    def test_render_and_check(self, tmp_path):
        board = tmp_path / "LEADERBOARD.md"
        args = ("--results", str(GOLDEN_RESULTS), "--leaderboard", str(board))
        assert invoke("leaderboard", *args, "--check").exit_code == 1  # missing counts as stale
        result = invoke("leaderboard", *args)
        assert result.exit_code == 0 and "rendered" in result.output
        expected = (Path(__file__).parents[1] / "support/golden/LEADERBOARD.md").read_text()
        assert board.read_text() == expected
        assert invoke("leaderboard", *args, "--check").exit_code == 0
        board.write_text(expected.replace("3.86×", "3.87×"))
        stale = invoke("leaderboard", *args, "--check")
        assert stale.exit_code == 1 and "is stale; run `packbench leaderboard" in stale.output
        board.write_bytes(b"\xff\xfe not UTF-8")
        assert invoke("leaderboard", *args, "--check").exit_code == 1  # stale, not a UnicodeDecodeError

    def test_no_results_yet(self, tmp_path):
        (tmp_path / "empty.jsonl").write_text("")
        result = invoke(
            "leaderboard", "--results", str(tmp_path / "empty.jsonl"), "--leaderboard", str(tmp_path / "L.md")
        )
        assert result.exit_code == 0 and "No successful runs yet" in (tmp_path / "L.md").read_text()

    def test_missing_results_file_never_wipes_the_board(self, tmp_path):
        """Issue 14, defect 5: a mistyped --results is an error and the board stays as it was."""
        board = tmp_path / "LEADERBOARD.md"
        board.write_text("| the board |\n")
        for extra in ((), ("--check",)):
            result = invoke(
                "leaderboard", "--results", str(tmp_path / "reslts.jsonl"), "--leaderboard", str(board), *extra
            )
            assert result.exit_code == 2, result.output
            assert result.output == (
                f"Error: results file {tmp_path / 'reslts.jsonl'} does not exist; "
                "pass the results.jsonl written by `packbench run`.\n"
            )
            assert board.read_text() == "| the board |\n"


def write_results(path: Path, runtimes: dict[str, float], status: str = "ok") -> Path:
    for cell, runtime in runtimes.items():
        append_result(
            path,
            RunResult(
                run_id=f"{path.stem}-{cell}",
                cell_id=cell,
                matrix="smoke",
                status=status,
                metrics={"training": {"runtime_s": runtime, "final_train_loss": 5.0}, "packing": {"efficiency": 0.97}},
            ),
        )
    return path


class TestCompare:
    def test_pass(self, tmp_path):
        base = write_results(tmp_path / "base.jsonl", {"a": 10.0, "b": 20.0})
        cand = write_results(tmp_path / "cand.jsonl", {"a": 10.5, "b": 19.0})
        result = invoke("compare", "--baseline", str(base), "--candidate", str(cand), "--max-slowdown", "10%")
        assert result.exit_code == 0, result.output
        assert (
            "| `a` | 10 → 10.5 (runtime) | +5.0% |" in result.output
            and "no regression in 2 compared cell(s)." in result.output
        )

    def test_fail_on_slowdown_and_on_missing_cells(self, tmp_path):
        base = write_results(tmp_path / "base.jsonl", {"a": 10.0, "b": 20.0})
        cand = write_results(tmp_path / "cand.jsonl", {"a": 12.0})
        result = invoke("compare", "--baseline", str(base), "--candidate", str(cand), "--max-slowdown", "10%")
        assert result.exit_code == 1
        assert "2 regression(s):" in result.output
        assert (
            "- a: train time +20.0% beyond the spread (limit +10%)" in result.output
            and "- b: missing from the candidate" in result.output
        )
        allowed = invoke(
            "compare", "--baseline", str(base), "--candidate", str(cand), "--max-slowdown", "25%", "--allow-missing"
        )
        assert allowed.exit_code == 0 and "warning: b: missing from the candidate" in allowed.output

    def test_efficiency_and_loss_limits(self, tmp_path):
        base = write_results(tmp_path / "base.jsonl", {"a": 10.0})
        cand = tmp_path / "cand.jsonl"
        append_result(
            cand,
            RunResult(
                run_id="c",
                cell_id="a",
                matrix="smoke",
                status="ok",
                metrics={"training": {"runtime_s": 10.0, "final_train_loss": 5.5}, "packing": {"efficiency": 0.90}},
            ),
        )
        args = ("compare", "--baseline", str(base), "--candidate", str(cand))
        assert invoke(*args).exit_code == 0  # only the time limit by default
        assert invoke(*args, "--max-efficiency-drop", "1%").exit_code == 1
        assert invoke(*args, "--max-loss-increase", "5%").exit_code == 1
        assert invoke(*args, "--max-loss-increase", "15%").exit_code == 0

    def test_bad_input(self, tmp_path):
        base = write_results(tmp_path / "base.jsonl", {"a": 10.0})
        missing = invoke("compare", "--baseline", str(base), "--candidate", str(tmp_path / "nope.jsonl"))
        assert missing.exit_code == 2 and "results file" in missing.output and "does not exist" in missing.output
        bad = invoke("compare", "--baseline", str(base), "--candidate", str(base), "--max-slowdown", "lots")
        assert bad.exit_code == 2 and "--max-slowdown 'lots' needs a unit" in bad.output

    def test_match_axes_pairs_two_configurations_of_one_matrix(self, tmp_path):
        base = write_results(tmp_path / "base.jsonl", {"m__d__bfd__isolated-0a1b2c3d": 10.0})
        cand = write_results(tmp_path / "cand.jsonl", {"m__d__bfd__isolated-99ff0011": 14.0})
        by_id = invoke("compare", "--baseline", str(base), "--candidate", str(cand), "--max-slowdown", "15%")
        assert by_id.exit_code == 1 and "- m__d__bfd__isolated-0a1b2c3d: missing from the candidate" in by_id.output
        by_axes = invoke(
            "compare", "--baseline", str(base), "--candidate", str(cand), "--max-slowdown", "15%", "--match", "axes"
        )
        assert by_axes.exit_code == 1, by_axes.output
        assert "- m__d__bfd__isolated: train time +40.0% beyond the spread (limit +15%)" in by_axes.output
        assert "missing" not in by_axes.output

    def test_match_axes_wants_one_matrix_per_file(self, tmp_path):
        base = write_results(tmp_path / "base.jsonl", {"m__d__bfd__isolated-0a1b2c3d": 10.0})
        append_result(
            base, RunResult(run_id="other", cell_id="m__d__bfd__isolated-12345678", matrix="other", status="ok")
        )
        result = invoke("compare", "--baseline", str(base), "--candidate", str(base), "--match", "axes")
        assert result.exit_code == 2
        assert result.output == (
            f"Error: {base} holds results of matrices other, smoke; --match axes pairs cells by their labels "
            "alone, so give it one matrix's results per file (run with --results).\n"
        )


class TestRecordLabels:
    """Issue 14, defect 10: a hand run of a matrix's set-up is labelled as the matrix labels it."""

    def test_embedded_assets_get_the_matrix_labels(self, tmp_path):
        from axolotl_packing_bench.matrix.spec import expand, load_matrix

        cache = tmp_path / "cache" / "assets-v1"
        hand = metrics(run_id="hand1")
        hand["model"] = {"path": str(cache / "models" / "tiny-8b"), "parameters": 590_000}
        hand["dataset"] = {"paths": [str(cache / "datasets" / "synth-n100-seed0.jsonl")], "samples": 100}
        run_dir = tmp_path / "run"
        run_dir.mkdir()
        (run_dir / "packbench_metrics.json").write_text(json.dumps(hand))
        results = tmp_path / "r.jsonl"
        result = invoke(
            "record",
            str(run_dir),
            "--matrix",
            "smoke",
            "--results",
            str(results),
            "--leaderboard",
            str(tmp_path / "L.md"),
        )
        assert result.exit_code == 0, result.output
        (row,) = read_results(results)
        smoke = load_matrix(Path(__file__).parents[2] / "recipes" / "matrices" / "smoke.yaml")
        cell = next(
            c
            for c in expand(smoke)
            if c.axes["model"] == "tiny-8b" and c.axes["dataset"] == "synth-100" and c.axes["strategy"] == "bfd"
        )
        assert (dict(row.axes), dict(row.labels)) == (dict(cell.axes), dict(cell.labels))
        assert row.labels == {"model_size": "8B", "dataset_size": "100"}
        assert "### synth-100 (100) × tiny-8b · 0.6M params, stands for 8B" in (tmp_path / "L.md").read_text()

    def test_labels_can_be_given(self, tmp_path, hand_run):
        results = tmp_path / "r.jsonl"
        result = invoke(
            "record",
            str(hand_run),
            "--model-name",
            "llama-3-8b",
            "--model-size",
            "8B",
            "--dataset-name",
            "wildchat-gpt4",
            "--dataset-size",
            "69K",
            "--results",
            str(results),
            "--leaderboard",
            str(tmp_path / "L.md"),
        )
        assert result.exit_code == 0, result.output
        (row,) = read_results(results)
        assert (row.axes["model"], row.axes["dataset"]) == ("llama-3-8b", "wildchat-gpt4")
        assert row.labels == {"model_size": "8B", "dataset_size": "69K"}

    def test_a_matrix_derives_an_embedded_assets_labels_the_same_way(self, tmp_path):
        from axolotl_packing_bench.matrix.spec import expand, load_matrix

        path = tmp_path / "m.yaml"
        path.write_text(
            "base: {sequence_len: 64}\naxes:\n  model: [packbench://model/tiny-70b]\n"
            "  dataset:\n    - datasets: [{path: packbench://dataset/100, type: chat_template}]\n"
            "  strategy: [padding]\n"
        )
        (cell,) = expand(load_matrix(path))
        assert (cell.axes["model"], cell.axes["dataset"]) == ("tiny-70b", "synth-100")
        assert cell.labels == {"model_size": "70B", "dataset_size": "100"}


def test_leaderboard_dash_and_wide(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    narrow = invoke("leaderboard", "--results", str(GOLDEN_RESULTS), "--leaderboard", "-")
    assert narrow.exit_code == 0 and narrow.output == (GOLDEN_RESULTS.parent / "LEADERBOARD.md").read_text()
    wide = invoke("leaderboard", "--results", str(GOLDEN_RESULTS), "--leaderboard", "-", "--wide")
    assert wide.output == (GOLDEN_RESULTS.parent / "LEADERBOARD-wide.md").read_text()
    assert not (tmp_path / "-").exists()
    check = invoke("leaderboard", "--results", str(GOLDEN_RESULTS), "--leaderboard", "-", "--check")
    assert check.exit_code == 2 and "give --leaderboard PATH, not -" in check.output


def test_record_prints_the_board_for_dash(tmp_path, hand_run, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("record", str(hand_run), "--results", "r.jsonl", "--leaderboard", "-")
    assert result.exit_code == 0 and "recorded ok run abc123" in result.output
    assert "# Packing leaderboard" in result.output and "| bfd | 30 |" in result.output
    assert result.output.rstrip().endswith("| — |")  # a hand run: its machine load was not measured
    assert not (tmp_path / "-").exists()
