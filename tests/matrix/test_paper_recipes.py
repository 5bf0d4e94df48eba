"""The committed paper recipes: regenerated identically, and valid for Axolotl offline.

After an intended change to recipes/matrices/paper.yaml, regenerate them with
`packbench recipes --matrix recipes/matrices/paper.yaml --out recipes/paper`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from axolotl_packing_bench.matrix.recipe import write_recipes
from axolotl_packing_bench.matrix.spec import expand, load_matrix

ROOT = Path(__file__).parents[2]
MATRIX = ROOT / "recipes" / "matrices" / "paper.yaml"
COMMITTED = ROOT / "recipes" / "paper"
FIX = "regenerate with `packbench recipes --matrix recipes/matrices/paper.yaml --out recipes/paper`"


def committed() -> list[Path]:
    return sorted(COMMITTED.glob("*.yml"))


def test_regenerated_recipes_match_the_committed_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_recipes(expand(load_matrix(MATRIX)), "recipes/paper")
    fresh = sorted((tmp_path / "recipes/paper").glob("*.yml"))
    assert [p.name for p in fresh] == [p.name for p in committed()], FIX
    for path in fresh:
        assert path.read_text() == (COMMITTED / path.name).read_text(), f"{path.name} differs; {FIX}"


def test_the_paper_settings():
    recipes = {path.name: yaml.safe_load(path.read_text()) for path in committed()}
    assert len(recipes) == 2 * 4 * 3
    for name, recipe in recipes.items():
        big = name.startswith("llama-3-70b")
        assert recipe["base_model"] == ("meta-llama/Meta-Llama-3-70B" if big else "meta-llama/Meta-Llama-3-8B")
        assert recipe["num_epochs"] == (3 if big else 4)
        assert recipe["deepspeed"] == ("deepspeed_configs/zero3_bf16.json" if big else "deepspeed_configs/zero2.json")
        assert (recipe["sequence_len"], recipe["learning_rate"], recipe["lr_scheduler"], recipe["warmup_ratio"]) == (
            4096,
            1e-5,
            "cosine",
            0.2,
        )
        assert (recipe["micro_batch_size"], recipe["gradient_accumulation_steps"]) == (2, 2)
        assert recipe["bf16"] is True and recipe["flash_attention"] is True
        assert recipe["packbench_strategy"] in ("padding", "random", "greedy") and recipe["sample_packing"] is False
        assert "/root" not in str(recipe) and "packbench://" not in str(recipe)  # nothing machine-specific
    first_line = committed()[0].read_text().splitlines()[0]
    assert first_line == f"# axolotl train recipes/paper/{committed()[0].name} --launcher accelerate"


@pytest.mark.parametrize("path", committed()[:1] + committed()[-1:], ids=lambda p: p.name)
def test_committed_recipes_pass_axolotls_schema_offline(path, monkeypatch):
    """Every recipe is checked through the matrix in test_matrix_commands; two files directly here."""
    from axolotl_packing_bench.matrix.schema import check_recipe_file

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert check_recipe_file(path) == []


def test_schema_check_of_a_file_reports_problems(tmp_path):
    from axolotl_packing_bench.matrix.schema import check_recipe_file

    text = (
        committed()[0]
        .read_text()
        .replace("micro_batch_size: 2", "micro_batch_size: two")
        .replace("warmup_ratio", "warmup_ration")
    )
    bad = tmp_path / "bad.yml"
    bad.write_text(text)
    problems = [str(p) for p in check_recipe_file(bad)]
    assert any(p.startswith(f"{bad}: micro_batch_size: Input should be a valid integer") for p in problems)
    assert any("warmup_ration: unknown Axolotl key (did you mean 'warmup_ratio'?)" in p for p in problems)
