"""Groups and turns of Axolotl-tokenized samples, and the new config keys."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from axolotl_packing_bench.plugin.args import PLUGIN_PATH, PackingBenchArgs
from axolotl_packing_bench.plugin.grouping import assistant_turns, per_sample_options
from axolotl_packing_bench.plugin.rows import TokenizedSamples

X = -100


def samples_of(rows: list[tuple[list[int], list[int]]]) -> TokenizedSamples:
    ids = np.concatenate([np.asarray(r[0]) for r in rows]).astype(np.int64)
    labels = np.concatenate([np.asarray(r[1]) for r in rows]).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum([len(r[0]) for r in rows])]).astype(np.int64)
    return TokenizedSamples(ids, labels, offsets)


def test_assistant_turns_are_runs_of_trained_labels():
    samples = samples_of(
        [
            ([1, 2, 3, 4], [X, X, 3, 4]),  # one turn
            ([1, 2, 3, 4, 5, 6], [X, 2, X, X, 5, 6]),  # two turns
            ([1, 2], [1, 2]),  # trained from its first token: a run that must not merge
            ([1, 2, 3], [X, X, X]),  # nothing trained
        ]
    )
    assert assistant_turns(samples).tolist() == [1, 2, 1, 0]


class Cfg(dict):
    """Attribute access like Axolotl's DictDefault (missing keys are None)."""

    def __getattr__(self, name):
        return self.get(name)


def config(**settings) -> Cfg:
    """A validated config's values: field defaults, then the args model's derived defaults."""
    from axolotl_packing_bench.plugin.args import derived_defaults

    values = {**{name: field.default for name, field in PackingBenchArgs.model_fields.items()}, "seed": 0, **settings}
    return Cfg({**values, **derived_defaults(values)})


@pytest.fixture(scope="module")
def tokenized_synthetic():
    """240 synthetic chats of 24 topics through the embedded tokenizer's chat template."""
    from transformers import AutoTokenizer

    from axolotl_packing_bench.assets import ensure_tokenizer, generate_dataset

    tokenizer = AutoTokenizer.from_pretrained(str(ensure_tokenizer()))
    rows = generate_dataset(240, seed=0)
    encoded = [tokenizer.apply_chat_template(r["messages"], tokenize=False) for r in rows]
    ids = [tokenizer(text, add_special_tokens=False).input_ids for text in encoded]
    return samples_of([(i, i) for i in ids]), [r["topic"] for r in rows], tokenizer


def test_token_tfidf_groups_recover_the_topics(tokenized_synthetic):
    from sklearn.metrics import adjusted_rand_score

    samples, topics, tokenizer = tokenized_synthetic
    options, groups, _ = per_sample_options(config(packbench_groups_k=24), "related", samples, tokenizer=tokenizer)
    assert options["groups"] is groups.labels and groups.method == "tfidf"
    assert adjusted_rand_score(topics, groups.labels) > 0.8


def test_options_per_strategy(tokenized_synthetic):
    samples, _, tokenizer = tokenized_synthetic
    options, groups, _ = per_sample_options(config(), "single_turn", samples, tokenizer=tokenizer)
    assert set(options) == {"turns"} and groups is not None  # relatedness is still measured
    # every token is trained in this fixture (as with train_on_inputs): each sample is one run, one turn
    assert options["turns"].tolist() == [1] * 240
    options, groups, _ = per_sample_options(config(packbench_relatedness=False), "bfd", samples)
    assert options == {} and groups is None
    options, groups, _ = per_sample_options(config(), "padding", samples)
    assert groups is None  # one sample per row: no relatedness to report


class TestArgs:
    def test_defaults(self):
        args = PackingBenchArgs()
        assert (args.packbench_loss, args.packbench_group_field, args.packbench_groups_k) == ("token", None, 16)
        assert args.packbench_relatedness is True

    def test_new_strategies_accepted(self):
        for name in ("related", "unrelated", "single_turn"):
            assert PackingBenchArgs(packbench_strategy=name).packbench_strategy == name

    def test_sample_loss_not_with_native(self):
        with pytest.raises(ValidationError, match="ignores packbench_loss"):
            PackingBenchArgs.model_validate(
                {"plugins": [PLUGIN_PATH], "packbench_strategy": "native", "packbench_loss": "sample"}
            )

    def test_embedding_needs_a_model(self):
        with pytest.raises(ValidationError, match="needs packbench_group_embedding_model"):
            PackingBenchArgs.model_validate(
                {"plugins": [PLUGIN_PATH], "packbench_strategy": "related", "packbench_group_method": "embedding"}
            )

    def test_unknown_loss(self):
        with pytest.raises(ValidationError):
            PackingBenchArgs(packbench_loss="mean")
