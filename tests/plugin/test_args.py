"""Config mistakes fail at Axolotl's own config validation, with one clear sentence."""

from __future__ import annotations

import pytest
import yaml

from tests.plugin.conftest import chat_dataset, recipe


def load(cfg, tmp_path):
    from axolotl.cli.config import load_cfg

    path = tmp_path / "recipe.yml"
    path.write_text(yaml.safe_dump(cfg))
    return load_cfg(str(path))


@pytest.fixture
def base(tiny_model, tiny_dataset, tmp_path):
    return recipe(tiny_model, chat_dataset(tiny_dataset), tmp_path)


def test_defaults_come_from_the_args_model(base, tmp_path):
    cfg = load(base, tmp_path)
    assert cfg.packbench_strategy == "bfd"
    assert cfg.packbench_attention == "isolated"
    assert cfg.packbench_probe_leakage is True
    assert cfg.packbench_sdpa_varlen is True
    assert not cfg.sample_packing


def test_native_turns_on_axolotls_sample_packing(base, tmp_path):
    cfg = load({**base, "packbench_strategy": "native"}, tmp_path)
    assert cfg.sample_packing is True


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"packbench_strategy": "tetris"}, "unknown packbench strategy 'tetris'; use one of bfd, greedy, native"),
        ({"packbench_eval_strategy": "tetris"}, "unknown packbench strategy 'tetris'"),
        ({"packbench_strategy": "native", "packbench_attention": "shared"},
         "native hands packing to Axolotl's sample_packing, which ignores packbench_attention; remove it"),
        ({"packbench_strategy": "native", "packbench_overflow": "split", "packbench_eval_strategy": "bfd"},
         "ignores packbench_overflow, packbench_eval_strategy; remove them"),
        ({"packbench_strategy": "native", "packbench_sdpa_varlen": False},
         "ignores packbench_sdpa_varlen; remove it"),
        ({"packbench_strategy": "native", "sample_packing": False}, "remove `sample_packing: false`"),
        ({"packbench_strategy": "bfd", "sample_packing": True}, "builds the packed rows itself; remove `sample_packing: true`"),
        ({"packbench_attention": "shared", "attn_implementation": "flex_attention"},
         "attention backend 'flex_attention' cannot run packbench rows"),
        ({"packbench_attention": "sideways"}, "packbench_attention"),
    ],
)
def test_config_mistakes_fail_validation(base, tmp_path, settings, message):
    with pytest.raises(ValueError) as error:
        load({**base, **settings}, tmp_path)
    assert message in str(error.value)
