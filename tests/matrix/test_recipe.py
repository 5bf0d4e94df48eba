"""Recipe rendering: golden files, URIs kept or resolved, stale files pruned.

Regenerate the golden files after an intended change with
`PACKBENCH_UPDATE_GOLDEN=1 pytest tests/matrix/test_recipe.py`.
"""

from __future__ import annotations

import os
import shutil

import yaml

from axolotl_packing_bench.matrix.recipe import MARKER, recipe_config, render_recipe, write_recipes
from axolotl_packing_bench.matrix.spec import expand, load_matrix
from tests.support.helpers import GOLDEN, HAND_MATRIX

GOLDEN_RECIPES = GOLDEN / "recipes"


def test_recipes_match_golden_files(hand_matrix, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    written = write_recipes(expand(load_matrix(hand_matrix)), "recipes/hand")
    if os.environ.get("PACKBENCH_UPDATE_GOLDEN"):
        shutil.rmtree(GOLDEN_RECIPES, ignore_errors=True)
        shutil.copytree(tmp_path / "recipes/hand", GOLDEN_RECIPES)
    assert sorted(p.name for p in written) == sorted(p.name for p in GOLDEN_RECIPES.glob("*.yml"))
    for path in written:
        assert path.read_text() == (GOLDEN_RECIPES / path.name).read_text(), path.name


def test_recipe_opens_with_the_command_that_runs_it(hand_matrix):
    cell = expand(load_matrix(hand_matrix))[1]
    text = render_recipe(cell, recipe_path="recipes/hand/x.yml", run_dir="runs/hand/x")
    lines = text.splitlines()
    assert lines[0] == "# axolotl train recipes/hand/x.yml --launcher python"
    assert lines[1].startswith(MARKER + cell.cell_id)
    config = yaml.safe_load(text)
    assert config["output_dir"] == "runs/hand/x/output"
    assert config["dataset_prepared_path"] == "runs/hand/prepared"
    assert list(config)[:2] == ["base_model", "datasets"]


def test_uris_are_kept_unless_resolved(write_matrix):
    path = write_matrix(HAND_MATRIX.replace("/models/small", "packbench://model/tiny-8b"))
    cell = expand(load_matrix(path))[0]
    kept = render_recipe(cell, recipe_path="x.yml", run_dir="runs/x")
    assert "base_model: packbench://model/tiny-8b" in kept
    assert "`packbench run` resolves them" in kept
    resolved = recipe_config(cell, run_dir="/abs/run", resolve=lambda uri: "/cache/" + uri.rsplit("/", 1)[-1])
    assert resolved["base_model"] == "/cache/tiny-8b"
    assert resolved["datasets"][0]["path"] == "/data/chats.jsonl"
    assert cell.config["base_model"] == "packbench://model/tiny-8b"  # the cell itself is untouched


def test_write_is_deterministic_and_prunes_only_generated_files(hand_matrix, tmp_path):
    cells = expand(load_matrix(hand_matrix))
    out = tmp_path / "out"
    write_recipes(cells, out)
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    (out / "mine.yml").write_text("# hand-written\nbase_model: x\n")
    stale = out / "old__cell-00000000.yml"
    stale.write_text("# axolotl train old.yml --launcher python\n" + MARKER + "old\nbase_model: x\n")
    write_recipes(cells[:2], out, prune=False)
    assert stale.exists()
    write_recipes(cells, out)
    assert not stale.exists() and (out / "mine.yml").exists()
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name != "mine.yml"} == first


def test_deepspeed_and_accelerate_comments(write_matrix):
    text = "launcher: accelerate\n" + HAND_MATRIX.replace(
        "  optimizer: adamw_torch\n", "  optimizer: adamw_torch\n  deepspeed: deepspeed_configs/zero3_bf16.json\n"
    )
    cell = expand(load_matrix(write_matrix(text)))[0]
    lines = render_recipe(cell, recipe_path="r.yml", run_dir="runs/r").splitlines()
    assert lines[0] == "# axolotl train r.yml --launcher accelerate"
    assert "# Run `axolotl fetch deepspeed_configs` in this directory first." in lines
