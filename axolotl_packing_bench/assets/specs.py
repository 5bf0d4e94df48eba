"""The embedded assets by name: tiny models and synthetic datasets.

The paper compares 8B and 70B models on datasets of 69K to 1.2M samples. The
embedded default stands in for them at a scale a 2-core CPU trains in
seconds. Scale: models keep the Llama architecture (GQA for the large one);
datasets are 1/100 of the paper's sample counts.

| name           | stands for  | hidden | layers | heads | kv heads | intermediate | parameters |
| -------------- | ----------- | ------ | ------ | ----- | -------- | ------------ | ---------- |
| tiny-8b        | Llama-3-8B  | 64     | 2      | 4     | 4        | 256          | 0.59M      |
| tiny-70b       | Llama-3-70B | 128    | 4      | 4     | 2        | 512          | 1.90M      |
| tiny-70b-ratio | Llama-3-70B | 256    | 4      | 8     | 4        | 832          | 5.18M      |

tiny-70b has 3.2x tiny-8b's parameters; tiny-70b-ratio restores the paper's
8B : 70B ratio (8.78x; Llama-3's 8.03B : 70.6B is 8.79x). Its pre-training
takes longer than the other two bases together, so it is built on demand
(`ModelSpec.on_demand`): only when a matrix or a command names it, never by
`packbench assets` alone, and the package does not ship it.

| name        | stands for (paper) | samples |
| ----------- | ------------------ | ------- |
| synth-69k   | 69K samples        | 690     |
| synth-326k  | 326K samples       | 3,260   |
| synth-652k  | 652K samples       | 6,520   |
| synth-1.2m  | 1.2M samples       | 12,000  |

Every named dataset uses the generator defaults (`synthetic.generate_dataset`):
lognormal lengths with mean 128 tokens and sigma 0.8, resampled into
[32, 500] tokens, so no sample overflows a 512-token capacity; pass
``overlong_fraction`` to `ensure_dataset` to get samples that do.
"""

from __future__ import annotations

from dataclasses import dataclass

from axolotl_packing_bench.assets.pretrain import PretrainRecipe

# Bump when any built byte would change (lexicon, generator, tokenizer, model
# config or init): the cache directory is named after it.
RECIPE_VERSION = 1

MODEL_SEED = 0


@dataclass(frozen=True)
class ModelSpec:
    """One tiny Llama-architecture model.

    Attributes:
        name: Asset name, e.g. ``"tiny-8b"``.
        hidden: Hidden size.
        layers: Decoder layers.
        heads: Attention heads.
        kv_heads: Key/value heads (fewer than ``heads`` means GQA).
        intermediate: MLP intermediate size.
        stands_for: The paper model it stands in for.
        pretrain: How the base is pre-trained (`pretrain.PretrainRecipe`)
            from its random initialization; None for the raw initialization.
        on_demand: Built only when named (a matrix's model, `ensure_model`,
            `packbench assets --model`), never by default, and not shipped.
    """

    name: str
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    stands_for: str
    pretrain: PretrainRecipe | None = None
    on_demand: bool = False

    @property
    def architecture(self) -> tuple[int, int, int, int, int]:
        """(hidden, layers, heads, kv_heads, intermediate): what the weights' shapes depend on."""
        return (self.hidden, self.layers, self.heads, self.kv_heads, self.intermediate)

    def directory_name(self) -> str:
        """The cache folder: the name, plus the pre-training recipe's hash for a base."""
        return f"{self.name}-{self.pretrain.digest()}" if self.pretrain else self.name

    def num_parameters(self, vocab_size: int) -> int:
        """Exact parameter count (untied embeddings, no biases, RMSNorm weights)."""
        head_dim = self.hidden // self.heads
        attention = 2 * self.hidden * self.hidden + 2 * self.hidden * self.kv_heads * head_dim
        mlp = 3 * self.hidden * self.intermediate
        norms = 2 * self.hidden
        return 2 * vocab_size * self.hidden + self.layers * (attention + mlp + norms) + self.hidden


@dataclass(frozen=True)
class DatasetSpec:
    """One named synthetic dataset.

    Attributes:
        name: Asset name, e.g. ``"synth-69k"``.
        samples: Number of conversations.
        stands_for: The paper dataset size it stands in for.
    """

    name: str
    samples: int
    stands_for: str


_TINY_8B = {"hidden": 64, "layers": 2, "heads": 4, "kv_heads": 4, "intermediate": 256, "stands_for": "Llama-3-8B"}
_TINY_70B = {"hidden": 128, "layers": 4, "heads": 4, "kv_heads": 2, "intermediate": 512, "stands_for": "Llama-3-70B"}
_TINY_70B_RATIO = {
    "hidden": 256,
    "layers": 4,
    "heads": 8,
    "kv_heads": 4,
    "intermediate": 832,
    "stands_for": "Llama-3-70B",
}

# Pre-training recipes of the bases: long enough that each reads a stated fact
# from its context (the reliance probe's positive control), short enough
# that both build in minutes on a 2-core CPU.
PRETRAIN_8B = PretrainRecipe(steps=1500, batch_size=32, learning_rate=3e-3)
PRETRAIN_70B = PretrainRecipe(steps=800, batch_size=32, learning_rate=2e-3)

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("tiny-8b", **_TINY_8B, pretrain=PRETRAIN_8B),
        ModelSpec("tiny-70b", **_TINY_70B, pretrain=PRETRAIN_70B),
        ModelSpec("tiny-8b-init", **_TINY_8B),
        ModelSpec("tiny-70b-init", **_TINY_70B),
        ModelSpec("tiny-70b-ratio", **_TINY_70B_RATIO, pretrain=PRETRAIN_70B, on_demand=True),
    )
}
"""The pre-trained bases matrices fine-tune, their random initializations (`-init`), and the on-demand base."""

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec("synth-69k", 690, "69K samples"),
        DatasetSpec("synth-326k", 3_260, "326K samples"),
        DatasetSpec("synth-652k", 6_520, "652K samples"),
        DatasetSpec("synth-1.2m", 12_000, "1.2M samples"),
    )
}

MAX_POSITION_EMBEDDINGS = 4096


def default_models() -> list[str]:
    """The models built by default (`packbench assets`, `ensure_models()`): all but the on-demand bases."""
    return [name for name, spec in MODELS.items() if not spec.on_demand]


def model_spec(name: str) -> ModelSpec:
    """The spec called ``name``; ValueError listing the valid names otherwise."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid: {', '.join(MODELS)}")
    return MODELS[name]


def dataset_spec(name: str) -> DatasetSpec:
    """The spec called ``name``; ValueError listing the valid names otherwise."""
    if name not in DATASETS:
        by_size = sorted(DATASETS, key=lambda known: DATASETS[known].samples)
        raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(by_size)} or a sample count")
    return DATASETS[name]
