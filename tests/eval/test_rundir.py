"""Finding the model, metrics and data seed of a run directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from axolotl_packing_bench.eval.errors import EvalError
from axolotl_packing_bench.eval.rundir import data_seed, open_run_dir


def fake_model(path: Path, metrics: dict | None = None) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    (path / "model.safetensors").write_bytes(b"")
    if metrics is not None:
        (path / "packbench_metrics.json").write_text(json.dumps(metrics))
    return path


def test_output_dir_or_cell_folder(tmp_path: Path):
    metrics = {
        "run_id": "abc",
        "strategy": "bfd",
        "dataset": {"paths": ["/d/synth-69k-seed3.jsonl"]},
        "model": {"path": "/m"},
    }
    fake_model(tmp_path / "cell" / "output", metrics)
    run = open_run_dir(tmp_path / "cell")
    assert run.path == tmp_path / "cell" / "output" and run.model_path == str(run.path)
    assert (run.run_id, run.strategy, run.seed, run.adapter_path) == ("abc", "bfd", 3, None)
    assert run.group_key() == ("/m", ("/d/synth-69k-seed3.jsonl",))


@pytest.mark.parametrize("given", ["cell", "cell/output"])
def test_a_metrics_file_named_by_the_recipe_is_read(tmp_path: Path, given: str):
    path = fake_model(tmp_path / "cell" / "output")
    (tmp_path / "cell" / "recipe.yml").write_text(f"output_dir: {path}\npackbench_metrics_file: run.json\n")
    (path / "run.json").write_text(json.dumps({"run_id": "named", "strategy": "greedy"}))
    run = open_run_dir(tmp_path / given)
    assert (run.run_id, run.strategy) == ("named", "greedy")


def test_lora_adapter_runs_on_its_base(tmp_path: Path):
    path = tmp_path / "lora"
    path.mkdir()
    (path / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "meta-llama/Meta-Llama-3-8B"}))
    run = open_run_dir(path)
    assert run.adapter_path == path and run.model_path == "meta-llama/Meta-Llama-3-8B" and run.run_id is None


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.write_text("x"), "is not a directory"),
        (lambda p: p.mkdir(), "holds no saved model"),
        (lambda p: (p.mkdir(), (p / "config.json").write_text("{}")), "holds no saved model"),
        (lambda p: (fake_model(p), (p / "packbench_metrics.json").write_text("{")), "is not valid JSON"),
    ],
)
def test_errors_are_one_sentence(tmp_path: Path, setup, message: str):
    path = tmp_path / "run"
    setup(path)
    with pytest.raises(EvalError, match=message) as error:
        open_run_dir(path)
    assert str(error.value).endswith(".") and "\n" not in str(error.value)


def test_data_seed():
    assert data_seed({}) == 0
    assert data_seed({"dataset": {"paths": ["/x/synth-326k-seed12-overlong0.02.jsonl"]}}) == 12
    assert data_seed({"dataset": {"paths": ["/x/my-data.jsonl"]}}) == 0


def test_reports_are_redacted_like_every_file(tmp_path: Path):
    import json

    from axolotl_packing_bench.eval.rundir import write_report

    secret = "sk-abcdefghijklmnopqrstuvwxyz0123"
    write_report(tmp_path / "packbench_judge.json", {"judge": {"error": f"HTTP 401: bad key {secret}"}, "n": 3})
    text = (tmp_path / "packbench_judge.json").read_text()
    assert secret not in text
    assert json.loads(text) == {"judge": {"error": "HTTP 401: bad key [REDACTED]"}, "n": 3}
