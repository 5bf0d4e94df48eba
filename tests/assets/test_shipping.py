"""The bases and tokenizer shipped inside the package: built from the current recipe, installed without pre-training."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from axolotl_packing_bench.assets import MODELS, RECIPE_VERSION, assets_root, ensure_models, ensure_tokenizer, shipping
from axolotl_packing_bench.assets.api import unbuilt_bases
from axolotl_packing_bench.assets.cache import AssetError
from axolotl_packing_bench.assets.models import PRETRAINING_FILE
from axolotl_packing_bench.assets.specs import ModelSpec

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

BASES = [name for name, spec in MODELS.items() if spec.pretrain is not None and not spec.on_demand]
TRAINING_RECORD = {"seconds"}
"""Fields of pretraining.json that depend on the machine, not on the recipe."""


def short(spec: ModelSpec, steps: int = 8) -> ModelSpec:
    return dataclasses.replace(spec, pretrain=dataclasses.replace(spec.pretrain, steps=steps, warmup_steps=2))


@pytest.mark.parametrize("name", BASES)
def test_the_shipped_base_is_the_current_recipes_build(name: str, tmp_path: Path):
    """Folder name = cache folder of the current recipe, pretraining.json records it.

    Every file is as the manifest says.
    """
    from axolotl_packing_bench.assets.models import model_config

    spec = MODELS[name]
    manifest = shipping.read_manifest()
    assert manifest["recipe_version"] == RECIPE_VERSION, (
        "rebuild the bases and run `python -m axolotl_packing_bench.assets.shipping`"
    )
    entry = manifest["bases"][name]
    assert entry["directory"] == spec.directory_name() and tuple(entry["architecture"]) == spec.architecture
    folder = shipping.shipped_base(spec)
    assert folder == shipping.SHIPPED_DIR / spec.directory_name() and folder.is_dir()
    assert shipping.folder_sha256(folder) == entry["files"]  # every file listed, none extra, all bytes as recorded
    record = json.loads((folder / PRETRAINING_FILE).read_text())
    assert record["digest"] == spec.pretrain.digest()
    assert record["recipe"] == dataclasses.asdict(spec.pretrain) and record["model"] == name
    assert record["final_loss"] < record["first_loss"]
    model_config(spec).save_pretrained(str(tmp_path))  # the architecture and config as the current code writes them
    assert (tmp_path / "config.json").read_text() == (folder / "config.json").read_text()
    for file in manifest["tokenizer"]:
        assert entry["files"][file] == manifest["tokenizer"][file]  # the base carries the shipped tokenizer


def test_the_shipped_tokenizer_is_the_current_build(home: Path):
    manifest = shipping.read_manifest()
    assert shipping.folder_sha256(shipping.SHIPPED_DIR / shipping.TOKENIZER) == manifest["tokenizer"]
    built = ensure_tokenizer(rebuild=True)  # built from the lexicon, not copied
    assert shipping.folder_sha256(built) == manifest["tokenizer"]


def test_assets_install_the_shipped_bases_without_pretraining(home: Path, monkeypatch: pytest.MonkeyPatch):
    from axolotl_packing_bench.assets import models, pretrain, tokenizer

    def never(*args, **kwargs):
        raise AssertionError("pre-training or building ran although the shipped bytes match the recipe")

    monkeypatch.setattr(pretrain, "pretrain", never)
    monkeypatch.setattr(models, "save_model", never)
    monkeypatch.setattr(tokenizer, "save_tokenizer", never)
    assert unbuilt_bases(BASES) == []  # nothing to pre-train: no build process is started
    assert unbuilt_bases(BASES, rebuild=True) == BASES
    paths = ensure_models(BASES)
    for name in BASES:
        assert paths[name] == assets_root() / "models" / MODELS[name].directory_name()
        assert shipping.folder_sha256(paths[name]) == shipping.read_manifest()["bases"][name]["files"]
    assert shipping.folder_sha256(assets_root() / "tokenizer") == shipping.read_manifest()["tokenizer"]


def test_packbench_assets_reports_shipped_bases_without_pretraining(home: Path, monkeypatch: pytest.MonkeyPatch):
    from click.testing import CliRunner

    from axolotl_packing_bench.assets import pretrain
    from axolotl_packing_bench.cli import main

    monkeypatch.setattr(pretrain, "pretrain", lambda *a, **k: pytest.fail("pre-trained a shipped base"))
    result = CliRunner().invoke(main, ["assets", "--only", "models"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if line.startswith("model ")]
    assert sum("shipped" in row for row in rows) == len(BASES)


def test_a_changed_recipe_is_built_not_copied(home: Path, monkeypatch: pytest.MonkeyPatch):
    changed = short(MODELS["tiny-8b"])
    assert shipping.shipped_base(changed) is None
    monkeypatch.setitem(MODELS, "tiny-8b", changed)
    assert unbuilt_bases(["tiny-8b"]) == ["tiny-8b"]
    path = ensure_models(["tiny-8b"])["tiny-8b"]
    assert json.loads((path / PRETRAINING_FILE).read_text())["recipe"]["steps"] == 8


def test_a_damaged_shipped_file_is_refused(home: Path, tmp_path: Path):
    source = tmp_path / "shipped"
    source.mkdir()
    (source / "model.safetensors").write_bytes(b"not the recorded bytes")
    with pytest.raises(AssetError, match="does not match its manifest"):
        shipping.install(source, tmp_path / "target", {"model.safetensors": "0" * 64})
    with pytest.raises(AssetError, match="config.json does not match its manifest"):  # missing altogether
        shipping.install(source, tmp_path / "other", {"config.json": "0" * 64})


def test_packbench_assets_says_a_damaged_install_in_one_sentence(home: Path, monkeypatch: pytest.MonkeyPatch):
    from click.testing import CliRunner

    from axolotl_packing_bench.cli import main

    def damaged(source: Path, target: Path, expected: dict[str, str]) -> None:
        raise AssetError(f"the shipped file {source / 'model.safetensors'} does not match its manifest; reinstall.")

    monkeypatch.setattr(shipping, "install", damaged)
    result = CliRunner().invoke(main, ["assets", "--only", "tokenizer"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.output.strip().splitlines()[-1].startswith("Error: the shipped file ")


@pytest.mark.slow
def test_rebuilding_a_shortened_recipe_twice_gives_the_same_bytes(home: Path, monkeypatch: pytest.MonkeyPatch):
    """`packbench assets --rebuild`'s path (one build process per base, one thread each), twice: identical bytes."""
    for name in BASES:
        monkeypatch.setitem(MODELS, name, short(MODELS[name]))
    builds = []
    for _ in range(2):
        paths = ensure_models(BASES, rebuild=True)
        builds.append(
            {
                name: (shipping.folder_sha256(paths[name]), json.loads((paths[name] / PRETRAINING_FILE).read_text()))
                for name in BASES
            }
        )
    for name in BASES:
        (first, first_record), (second, second_record) = (build[name] for build in builds)
        assert first_record["recipe"]["steps"] == 8
        for record in (first_record, second_record):
            for field in TRAINING_RECORD:
                record.pop(field)
        assert first_record == second_record, name
        del first[PRETRAINING_FILE], second[PRETRAINING_FILE]
        assert first == second, name  # weights, config and tokenizer files byte for byte
        assert first["model.safetensors"] != shipping.read_manifest()["bases"][name]["files"]["model.safetensors"]


def test_an_on_demand_base_is_neither_shipped_nor_required_to_ship(tmp_path: Path):
    """`write_shipped` ships the default bases from an asset root that holds no on-demand base."""
    on_demand = [spec for spec in MODELS.values() if spec.on_demand]
    assert on_demand and set(shipping.read_manifest()["bases"]) == set(BASES)
    for spec in on_demand:
        assert shipping.shipped_base(spec) is None
    root = tmp_path / "root"
    shutil.copytree(shipping.SHIPPED_DIR / shipping.TOKENIZER, root / shipping.TOKENIZER)
    for name in BASES:
        shutil.copytree(shipping.shipped_base(MODELS[name]), root / "models" / MODELS[name].directory_name())
    written = shipping.write_shipped(root, tmp_path / "shipped")
    assert set(written["bases"]) == set(BASES)
    assert sorted(p.name for p in (tmp_path / "shipped").iterdir()) == sorted(
        [shipping.MANIFEST_FILE, shipping.TOKENIZER, *(MODELS[name].directory_name() for name in BASES)]
    )
