"""Config mistakes fail at Axolotl's own config validation, with one clear sentence."""

from __future__ import annotations

import pytest
import yaml

from tests.plugin.conftest import chat_dataset, recipe


def load(cfg, tmp_path):
    from axolotl_packing_bench.compat.axolotl_api import load_cfg

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
        (
            {"packbench_strategy": "native", "packbench_attention": "shared"},
            "native hands packing to Axolotl's sample_packing, which ignores packbench_attention; remove it",
        ),
        (
            {"packbench_strategy": "native", "packbench_overflow": "split", "packbench_eval_strategy": "bfd"},
            "ignores packbench_overflow, packbench_eval_strategy; remove them",
        ),
        ({"packbench_strategy": "native", "packbench_sdpa_varlen": False}, "ignores packbench_sdpa_varlen; remove it"),
        ({"packbench_strategy": "native", "sample_packing": False}, "remove `sample_packing: false`"),
        (
            {"packbench_strategy": "bfd", "sample_packing": True},
            "builds the packed rows itself; remove `sample_packing: true`",
        ),
        (
            {"packbench_attention": "shared", "attn_implementation": "flex_attention"},
            "attention backend 'flex_attention' cannot run packbench rows",
        ),
        ({"packbench_attention": "sideways"}, "packbench_attention"),
    ],
)
def test_config_mistakes_fail_validation(base, tmp_path, settings, message):
    with pytest.raises(ValueError) as error:
        load({**base, **settings}, tmp_path)
    assert message in str(error.value)


def _readme_keys() -> dict:
    from pathlib import Path

    text = (Path(__file__).parents[2] / "axolotl_packing_bench" / "plugin" / "README.md").read_text()
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    return {key: value for key, value in yaml.safe_load(block).items() if key != "plugins"}


def test_readme_key_table_equals_the_args_model():
    """Every key of the plugin README is a field of the args model, with the same default, and back."""
    from axolotl_packing_bench.plugin.args import PackingBenchArgs

    fields = PackingBenchArgs.model_fields
    readme = _readme_keys()
    assert set(readme) == set(fields)
    assert {key: value for key, value in readme.items()} == {key: field.default for key, field in fields.items()}


def test_shared_defaults_come_from_constants():
    from axolotl_packing_bench import constants
    from axolotl_packing_bench.plugin.args import PackingBenchArgs

    fields = PackingBenchArgs.model_fields
    assert fields["packbench_strategy"].default == constants.DEFAULT_STRATEGY
    assert fields["packbench_attention"].default == constants.DEFAULT_ATTENTION
    assert fields["packbench_metrics_file"].default == constants.METRICS_FILE
    assert fields["packbench_groups_k"].default == constants.DEFAULT_GROUPS_K


@pytest.mark.parametrize(
    ("values", "derived"),
    [
        (
            {"seed": 7, "sequence_len": 256},
            {"packbench_seed": 7, "packbench_eval_strategy": "bfd", "packbench_max_sample_len": 1024},
        ),
        (
            {
                "packbench_strategy": "greedy",
                "packbench_eval_strategy": "padding",
                "packbench_seed": 3,
                "packbench_max_sample_len": 300,
                "seed": 7,
                "sequence_len": 256,
            },
            {},
        ),
        ({"packbench_strategy": "native", "sequence_len": 256}, {"packbench_seed": 0}),
    ],
)
def test_derived_defaults(values, derived):
    from axolotl_packing_bench.plugin.args import derived_defaults

    assert derived_defaults(values) == derived


def test_validated_config_holds_the_derived_defaults(base, tmp_path):
    """Axolotl's validation resolves them once: the plugin's code reads them as they are."""
    cfg = load({**base, "seed": 5}, tmp_path)
    assert (cfg.packbench_eval_strategy, cfg.packbench_seed, cfg.packbench_max_sample_len) == ("bfd", 5, 4 * 256)
    native = load({**base, "packbench_strategy": "native"}, tmp_path)
    assert native.packbench_max_sample_len is None and native.packbench_seed == 0
