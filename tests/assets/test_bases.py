"""Pre-trained bases: keyed by their recipe, reproducible, and able to read a fact from their context.

The positive control of the reliance probe runs on the real bases (slow: the
probe itself; the bases ship built, see test_shipping.py). If a base cannot
read a stated fact, a probe that reads zero on a fine-tuned model says nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

from axolotl_packing_bench.assets import MODELS, ensure_heldout, ensure_model, ensure_tokenizer
from axolotl_packing_bench.assets.specs import ModelSpec

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

BASES = [name for name, spec in MODELS.items() if spec.pretrain is not None and not spec.on_demand]


def short(spec: ModelSpec, steps: int = 12) -> ModelSpec:
    """The same base with a few pre-training steps, to test the build quickly."""
    return dataclasses.replace(spec, pretrain=dataclasses.replace(spec.pretrain, steps=steps, warmup_steps=4))


def weights_digest(directory: Path) -> str:
    return hashlib.sha256((directory / "model.safetensors").read_bytes()).hexdigest()


def test_the_cache_folder_is_keyed_by_the_recipe():
    spec = MODELS["tiny-8b"]
    assert spec.directory_name() == f"tiny-8b-{spec.pretrain.digest()}"
    assert short(spec).directory_name() != spec.directory_name()
    assert MODELS["tiny-8b-init"].directory_name() == "tiny-8b-init"


def test_pretraining_twice_gives_identical_weights_and_lowers_the_loss(home: Path, tmp_path: Path):
    from axolotl_packing_bench.assets.models import PRETRAINING_FILE, save_model

    tokenizer_dir = ensure_tokenizer()
    spec = short(MODELS["tiny-8b"])
    torch.manual_seed(5)
    for name in ("first", "second"):
        save_model(spec, tmp_path / name, tokenizer_dir, show_progress=False)
    assert weights_digest(tmp_path / "first") == weights_digest(tmp_path / "second")
    init = ensure_model("tiny-8b-init")
    assert weights_digest(tmp_path / "first") != weights_digest(init)  # pre-training changed the weights
    report = json.loads((tmp_path / "first" / PRETRAINING_FILE).read_text())
    assert report["digest"] == spec.pretrain.digest() and report["recipe"]["steps"] == 12
    assert report["final_loss"] < report["first_loss"]
    assert '"attn_implementation"' not in (tmp_path / "first" / "config.json").read_text()


def test_corpus_answers_come_only_from_the_passage():
    from axolotl_packing_bench.assets import corpus

    kinds = set()
    for index in range(200):
        kind, pieces = corpus.document(index, seed=0)
        kinds.add(kind)
        text = "".join(piece.text for piece in pieces)
        trained = [piece.text for piece in pieces if piece.trained and not piece.special]
        assert trained, kind
        if kind != "topic":
            for answer in trained:  # "The A of E is V." is stated in the document before it is asked
                statement = answer.strip().replace("The ", "the ", 1)
                assert statement in text[: text.index(answer)], (kind, answer)
    assert kinds == set(corpus.KINDS)
    assert corpus.document(7, seed=0) == corpus.document(7, seed=0) != corpus.document(7, seed=1)


@pytest.fixture(scope="module")
def bases() -> dict[str, Path]:
    """The real bases, installed from the shipped bytes (pre-trained side by side only if the recipe changed)."""
    from axolotl_packing_bench.assets import ensure_models

    return ensure_models(BASES)


def assert_reads_a_fact_from_its_context(model_dir: Path) -> None:
    """Held-out questions answered only by the passage: the probe must see the model read it."""
    from axolotl_packing_bench.probes.reliance import run_reliance_probe

    result = run_reliance_probe(model_dir, ensure_heldout(0), k=3, bootstrap=1000, seed=0, threads=2)
    fact_use = result["effects"]["fact_use"]["answer_loss"]
    # loss with a conflicting passage minus loss with the correct one, per answer token
    assert fact_use["mean"] >= 0.5 and fact_use["ci"][0] > 0, fact_use
    conditions = result["conditions"]
    assert conditions["related"]["exact_match"] >= 0.5, conditions
    # without the passage the value is a guess among the topic's 12 values
    assert conditions["none"]["exact_match"] <= 0.2, conditions
    assert conditions["conflicting"]["names_conflicting_value"] >= 0.5, conditions


@pytest.mark.slow
@pytest.mark.parametrize("name", BASES)
def test_positive_control_the_base_reads_a_fact_from_its_context(bases: dict[str, Path], name: str):
    assert_reads_a_fact_from_its_context(bases[name])


ON_DEMAND = [name for name, spec in MODELS.items() if spec.on_demand]


@pytest.mark.slow
@pytest.mark.parametrize("name", ON_DEMAND)
def test_positive_control_of_an_on_demand_base_once_built(name: str):
    """Checked where it was built (`packbench assets --model NAME` under this PACKBENCH_HOME); never built here."""
    from axolotl_packing_bench.assets import assets_root

    folder = assets_root() / "models" / MODELS[name].directory_name()
    if not (folder / "model.safetensors").is_file():
        pytest.skip(f"{name} is built on demand and is not built under {assets_root()}")
    assert_reads_a_fact_from_its_context(folder)
