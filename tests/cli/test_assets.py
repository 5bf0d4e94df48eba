"""`packbench assets`: builds into PACKBENCH_HOME and prints where everything is."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

from axolotl_packing_bench.assets import DATASETS, MODELS, assets_root
from axolotl_packing_bench.cli import main

pytest.importorskip("transformers")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PACKBENCH_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # Keep the suite quick: only the smallest named dataset, and bases pre-trained for a few steps
    # (tests/assets/test_bases.py checks the real ones).
    for name in [n for n in DATASETS if n != "synth-69k"]:
        monkeypatch.delitem(DATASETS, name)
    for name, spec in list(MODELS.items()):
        if spec.pretrain is not None:
            recipe = dataclasses.replace(spec.pretrain, steps=3, warmup_steps=1)
            monkeypatch.setitem(MODELS, name, dataclasses.replace(spec, pretrain=recipe))
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(main, ["assets", *args], catch_exceptions=False)


def test_builds_everything_and_prints_a_table(home: Path):
    result = run()
    assert result.exit_code == 0, result.output
    # libraries may log a line of their own first (DeepSpeed warns on stdout when it finds no GPU)
    lines = [line for line in result.stdout.splitlines() if not line.startswith("[")]
    assert lines[0].split() == ["kind", "name", "stands", "for", "path", "size"]
    text = result.stdout
    for name, spec in MODELS.items():
        built = str(assets_root() / "models" / spec.directory_name()) in text
        assert built != spec.on_demand and spec.stands_for in text, name  # an on-demand base is not built
    assert "(built on demand)" in text and "--model tiny-70b-ratio" in text
    assert not (assets_root() / "models" / MODELS["tiny-70b-ratio"].directory_name()).exists()
    assert "690 samples" in text and "held-out QA probe" in text and "tokens" in text
    assert "held-out chats" in text and "240 samples" in text
    assert "pre-trained 3 steps" in text
    base = MODELS["tiny-70b"].directory_name()
    assert (assets_root() / "models" / base / "model.safetensors").is_file()
    assert (assets_root() / "models" / base / "pretraining.json").is_file()


def test_only_and_rebuild(home: Path):
    result = run("--only", "tokenizer")
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 3
    tokenizer_json = assets_root() / "tokenizer" / "tokenizer.json"
    tokenizer_json.write_text("{}")
    assert run("--only", "tokenizer").exit_code == 0 and tokenizer_json.read_text() == "{}"
    assert run("--only", "tokenizer", "--rebuild").exit_code == 0 and tokenizer_json.read_text() != "{}"
    assert not (assets_root() / "models").exists()


def test_bad_only_names_the_choices(home: Path):
    result = CliRunner().invoke(main, ["assets", "--only", "weights"])
    assert result.exit_code == 2 and "models" in result.output and "tokenizer" in result.output


def test_help():
    result = CliRunner().invoke(main, ["assets", "--help"])
    assert result.exit_code == 0 and "PACKBENCH_HOME" in result.output


def test_model_builds_an_on_demand_base_and_only_it(home: Path):
    result = run("--model", "tiny-70b-ratio")
    assert result.exit_code == 0, result.output
    folder = assets_root() / "models" / MODELS["tiny-70b-ratio"].directory_name()
    assert (folder / "model.safetensors").is_file() and (folder / "pretraining.json").is_file()
    rows = [line for line in result.stdout.splitlines() if line.startswith("model ")]
    assert len(rows) == 1 and str(folder) in rows[0] and "pre-trained 3 steps" in rows[0]
    assert sorted(p.name for p in (assets_root() / "models").iterdir()) == [folder.name]  # nothing else built
    # once built, the default listing shows where it is instead of how to build it
    listing = run("--only", "models")
    assert str(folder) in listing.stdout and "(built on demand)" not in listing.stdout


def test_an_unknown_model_is_one_sentence(home: Path):
    result = CliRunner().invoke(main, ["assets", "--model", "tiny-9b"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "--model 'tiny-9b' is not an embedded model; use one of tiny-8b, tiny-70b," in result.output
    assert not (assets_root() / "models").exists()
