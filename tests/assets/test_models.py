"""Tiny models: loadable, documented sizes, deterministic, built once when raced."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest

from axolotl_packing_bench.assets import (
    MODELS,
    RECIPE_VERSION,
    ensure_model,
    ensure_tokenizer,
    models,
)
from axolotl_packing_bench.assets.tokenizer import build_vocab

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

VOCAB_SIZE = len(build_vocab())


def test_documented_parameter_counts():
    # The exact figures, from the formula in ModelSpec.num_parameters.
    assert (
        MODELS["tiny-8b"].num_parameters(VOCAB_SIZE)
        == 2 * VOCAB_SIZE * 64 + 2 * (4 * 64 * 64 + 3 * 64 * 256 + 2 * 64) + 64
    )
    assert MODELS["tiny-70b"].num_parameters(VOCAB_SIZE) == (
        2 * VOCAB_SIZE * 128 + 4 * (2 * 128 * 128 + 2 * 128 * 64 + 3 * 128 * 512 + 2 * 128) + 128
    )
    assert MODELS["tiny-70b-ratio"].num_parameters(VOCAB_SIZE) == (
        2 * VOCAB_SIZE * 256 + 4 * (2 * 256 * 256 + 2 * 256 * 128 + 3 * 256 * 832 + 2 * 256) + 256
    )


def test_the_on_demand_base_restores_the_papers_size_ratio():
    """Llama-3 70B : 8B is 70.6B : 8.03B = 8.79; tiny-70b alone is 3.2x tiny-8b."""
    small = MODELS["tiny-8b"].num_parameters(VOCAB_SIZE)
    assert 3.0 < MODELS["tiny-70b"].num_parameters(VOCAB_SIZE) / small < 3.5
    assert 8.6 < MODELS["tiny-70b-ratio"].num_parameters(VOCAB_SIZE) / small < 8.9
    ratio = MODELS["tiny-70b-ratio"]
    assert ratio.pretrain is not None and ratio.on_demand and ratio.stands_for == MODELS["tiny-70b"].stands_for
    assert ratio.pretrain == MODELS["tiny-70b"].pretrain  # pre-trained the same way: corpus, batch, steps, schedule


def test_default_builds_leave_the_on_demand_base_out(monkeypatch: pytest.MonkeyPatch):
    from axolotl_packing_bench.assets import api, default_models

    assert "tiny-70b-ratio" not in default_models()
    assert set(default_models()) == set(MODELS) - {"tiny-70b-ratio"}
    asked: list[list[str]] = []
    monkeypatch.setattr(api, "ensure_tokenizer", lambda: None)
    monkeypatch.setattr(api, "unbuilt_bases", lambda names, rebuild=False: asked.append(list(names)) or [])
    monkeypatch.setattr(api, "ensure_model", lambda name, rebuild=False: Path(name))
    assert set(api.ensure_models()) == set(default_models())
    assert asked == [default_models()]
    assert api.ensure_models(["tiny-70b-ratio"]) == {"tiny-70b-ratio": Path("tiny-70b-ratio")}


INIT_MODELS = [name for name, spec in MODELS.items() if spec.pretrain is None]


def test_every_default_base_has_its_initialization():
    bases = {name: spec for name, spec in MODELS.items() if spec.pretrain is not None and not spec.on_demand}
    assert set(bases) == {"tiny-8b", "tiny-70b"}
    assert [name for name, spec in MODELS.items() if spec.on_demand] == ["tiny-70b-ratio"]
    for name, spec in bases.items():
        assert MODELS[f"{name}-init"].architecture == spec.architecture


@pytest.mark.parametrize("name", INIT_MODELS)
def test_loads_with_documented_config_and_size(built: Path, name: str):
    spec = MODELS[name]
    model = transformers.AutoModelForCausalLM.from_pretrained(str(built / "models" / name), local_files_only=True)
    config = model.config
    assert type(model).__name__ == "LlamaForCausalLM"
    assert (
        config.hidden_size,
        config.num_hidden_layers,
        config.num_attention_heads,
    ) == (
        spec.hidden,
        spec.layers,
        spec.heads,
    )
    assert (config.num_key_value_heads, config.intermediate_size) == (
        spec.kv_heads,
        spec.intermediate,
    )
    assert config.max_position_embeddings >= 4096
    assert config.tie_word_embeddings is False and config.use_cache is True
    assert config.vocab_size == VOCAB_SIZE
    assert (config.pad_token_id, config.bos_token_id, config.eos_token_id) == (0, 1, 2)
    assert model.dtype == torch.float32
    assert sum(p.numel() for p in model.parameters()) == spec.num_parameters(VOCAB_SIZE)
    assert '"attn_implementation"' not in (built / "models" / name / "config.json").read_text()
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(built / "models" / name), local_files_only=True)
    assert len(tokenizer) == VOCAB_SIZE
    ids = tokenizer("The river of Furaer is Fouhon.", return_tensors="pt")["input_ids"]
    assert model(ids).logits.shape == (1, ids.shape[1], VOCAB_SIZE)


def test_weights_identical_when_built_twice(built: Path, home: Path):
    for name in INIT_MODELS:
        again = ensure_model(name)
        for file in (
            "model.safetensors",
            "config.json",
            "generation_config.json",
            "tokenizer.json",
        ):
            assert (again / file).read_bytes() == (built / "models" / name / file).read_bytes(), (name, file)


def test_building_leaves_the_callers_rng_alone(home: Path):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    ensure_model("tiny-8b-init")
    assert torch.equal(torch.rand(3), expected)


def _build_in_child(results) -> None:
    torch.set_num_threads(1)  # as DataLoader workers do: OpenMP is not fork-safe
    results.put(str(ensure_model("tiny-8b-init")))


def test_two_processes_get_one_intact_build(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    ensure_tokenizer()  # so the children race for the model only
    builds = tmp_path / "builds.log"
    real_save_model = models.save_model

    def counted_save_model(*args) -> None:
        with open(builds, "a") as log:
            log.write(f"{os.getpid()}\n")
        time.sleep(1)  # hold the lock while the other process arrives
        real_save_model(*args)

    monkeypatch.setattr(models, "save_model", counted_save_model)
    # Forked children inherit the imports (and the patch) instead of importing again.
    context = multiprocessing.get_context("fork")
    results = context.SimpleQueue()
    children = [context.Process(target=_build_in_child, args=(results,)) for _ in range(2)]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=120)
        if child.is_alive():
            child.terminate()
    assert [child.exitcode for child in children] == [0, 0]
    paths = {results.get() for _ in children}
    assert paths == {str(home / f"assets-v{RECIPE_VERSION}" / "models" / "tiny-8b-init")}
    assert len(builds.read_text().splitlines()) == 1
    model_dir = Path(paths.pop())
    assert sorted(p.name for p in model_dir.parent.iterdir()) == ["tiny-8b-init"]  # no staging left over
    model = transformers.AutoModelForCausalLM.from_pretrained(str(model_dir), local_files_only=True)
    assert sum(p.numel() for p in model.parameters()) == MODELS["tiny-8b-init"].num_parameters(VOCAB_SIZE)
