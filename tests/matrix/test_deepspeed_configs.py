"""The ZeRO configs the paper recipes name, parsed by DeepSpeed's own config parser.

The recipes name Axolotl's configs (`deepspeed: deepspeed_configs/zero2.json`
for 8B, `zero3_bf16.json` for 70B), which `axolotl fetch deepspeed_configs`
downloads beside where you train. Their `"auto"` values are filled from the
recipe as transformers does at train time (batch sizes, clipping, precision,
ZeRO-3 bucket sizes from the model's hidden size), then
`deepspeed.runtime.config.DeepSpeedConfig` parses the result as one rank of
the data-parallel group. Needs `deepspeed` (the `gpu` extra; it also installs
on a CPU machine) and the fetched folder: `PACKBENCH_DEEPSPEED_CONFIGS`, or
`deepspeed_configs/` in the repository root.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).parents[2]
RECIPES = sorted((ROOT / "recipes" / "paper").glob("*.yml"))
HIDDEN_SIZE = {"meta-llama/Meta-Llama-3-8B": 4096, "meta-llama/Meta-Llama-3-70B": 8192}
"""The paper models' hidden sizes (their config.json), for ZeRO-3's "auto" bucket sizes."""
EXPECTED_STAGE = {"meta-llama/Meta-Llama-3-8B": 2, "meta-llama/Meta-Llama-3-70B": 3}


def configs_folder() -> Path:
    return Path(os.environ.get("PACKBENCH_DEEPSPEED_CONFIGS", ROOT / "deepspeed_configs"))


def fill_auto(config: dict[str, Any], recipe: dict[str, Any]) -> dict[str, Any]:
    """`config` with every "auto" replaced as transformers' HfTrainerDeepSpeedConfig does, for one rank."""
    micro, accumulation = recipe["micro_batch_size"], recipe.get("gradient_accumulation_steps", 1)
    hidden = HIDDEN_SIZE[recipe["base_model"]]
    values = {
        ("train_micro_batch_size_per_gpu",): micro,
        ("gradient_accumulation_steps",): accumulation,
        ("train_batch_size",): micro * accumulation,  # x world size (1: this rank alone)
        ("gradient_clipping",): recipe.get("max_grad_norm", 1.0),
        ("bf16", "enabled"): bool(recipe.get("bf16")),
        ("fp16", "enabled"): bool(recipe.get("fp16")),
        ("zero_optimization", "reduce_bucket_size"): hidden * hidden,
        ("zero_optimization", "stage3_prefetch_bucket_size"): int(0.9 * hidden * hidden),
        ("zero_optimization", "prefetch_bucket_size"): int(0.9 * hidden * hidden),
        ("zero_optimization", "stage3_param_persistence_threshold"): 10 * hidden,
        ("zero_optimization", "param_persistence_threshold"): 10 * hidden,
    }

    def walk(node: Any, path: tuple[str, ...]) -> Any:
        if isinstance(node, dict):
            return {key: walk(value, (*path, key)) for key, value in node.items()}
        if node == "auto":
            if path not in values:
                raise AssertionError(f'{".".join(path)} is "auto" and this test does not know its train-time value')
            return values[path]
        return node

    return walk(config, ())


def test_every_paper_recipe_names_a_zero_config_that_deepspeed_accepts():
    deepspeed_config = pytest.importorskip(
        "deepspeed.runtime.config", reason="deepspeed is not installed (pip install deepspeed; it installs on CPU too)"
    )
    folder = configs_folder()
    if not folder.is_dir():
        pytest.skip(
            f"no {folder}: run `axolotl fetch deepspeed_configs` in the repository root, or set "
            "PACKBENCH_DEEPSPEED_CONFIGS to the fetched folder"
        )
    assert RECIPES, "recipes/paper holds no recipes"
    for path in RECIPES:
        recipe = yaml.safe_load(path.read_text())
        named = Path(recipe["deepspeed"])
        config_path = folder / named.name
        assert config_path.is_file(), f"{path.name} names {named}, which {folder} lacks"
        resolved = fill_auto(json.loads(config_path.read_text()), recipe)
        parsed = deepspeed_config.DeepSpeedConfig(resolved)
        assert parsed.zero_optimization_stage == EXPECTED_STAGE[recipe["base_model"]], path.name
        assert parsed.bfloat16_config.enabled is True and parsed.float16_config.enabled is False, path.name
        assert (parsed.train_micro_batch_size_per_gpu, parsed.gradient_accumulation_steps) == (2, 2), path.name


def test_an_auto_value_the_test_cannot_fill_is_named():
    recipe = {"base_model": "meta-llama/Meta-Llama-3-8B", "micro_batch_size": 2, "bf16": True}
    assert fill_auto({"train_batch_size": "auto", "bf16": {"enabled": "auto"}}, recipe) == {
        "train_batch_size": 2,
        "bf16": {"enabled": True},
    }
    with pytest.raises(AssertionError, match=r"optimizer\.params\.lr is \"auto\""):
        fill_auto({"optimizer": {"params": {"lr": "auto"}}}, recipe)
