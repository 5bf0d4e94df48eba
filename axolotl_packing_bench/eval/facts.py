"""Data of the offline lm-eval tasks: fact questions over the synthetic topics.

The shipped task YAMLs (``eval/tasks/``) load it through
``custom_dataset: !function facts.load``, which writes two JSONL files from
`assets` (locally, deterministically, once per seed) and reads them with the
``json`` builder of `datasets`::

    $PACKBENCH_HOME/assets-v1/eval/facts-v1-seed0/
        test.jsonl    one row per held-out fact (stated in training, never asked)
        train.jsonl   one row per trainable fact: the few-shot examples

Each row::

    {"id": "facts-s0-0000", "topic": "Nypind", "entity": "Furaer",
     "attribute": "flower", "value": "Fouhon",
     "question": "What is the flower of Furaer?",
     "choices": ["Vrustathur", "Fouhon", "Kifur", "Heive"], "label": 1}

The four choices are the value, the conflicting value of the reliance probe
and two more values of the same topic, in a seeded order: chance is 25%.
The seed is the one the run's dataset was generated with (``-seed<N>`` in
its file name), passed to lm-eval as task metadata ``packbench_seed``.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

FACTS_VERSION = 1
NUM_CHOICES = 4


def _row(index: int, fact: Any, conflict_value: str, values: tuple[str, ...], seed: int, prefix: str) -> dict[str, Any]:
    rng = random.Random(f"facts-choices:{seed}:{fact.topic}:{fact.entity}:{fact.attribute}")
    others = [v for v in values if v not in (fact.value, conflict_value)]
    choices = [fact.value, conflict_value, *rng.sample(others, NUM_CHOICES - 2)]
    rng.shuffle(choices)
    return {
        "id": f"{prefix}-s{seed}-{index:04d}",
        "topic": fact.topic,
        "entity": fact.entity,
        "attribute": fact.attribute,
        "value": fact.value,
        "question": fact.question(),
        "choices": choices,
        "label": choices.index(fact.value),
    }


def facts_rows(seed: int = 0) -> dict[str, list[dict[str, Any]]]:
    """``{"test": held-out fact rows, "train": trainable fact rows}`` for ``seed``."""
    from axolotl_packing_bench.assets import conflicting_fact, topic_facts
    from axolotl_packing_bench.assets.lexicon import topic_by_name

    splits: dict[str, list[dict[str, Any]]] = {"test": [], "train": []}
    for fact in topic_facts(seed):
        split = "test" if fact.heldout else "train"
        conflict = conflicting_fact(fact, seed=seed).value
        values = topic_by_name(fact.topic).values
        splits[split].append(_row(len(splits[split]), fact, conflict, values, seed, f"facts-{split}"))
    return splits


def ensure_facts_data(seed: int = 0) -> dict[str, Path]:
    """Write (once) and return the ``test`` and ``train`` JSONL paths for ``seed``."""
    from axolotl_packing_bench.assets.cache import assets_root, build_once
    from axolotl_packing_bench.assets.synthetic import write_jsonl

    def build(path: Path) -> None:
        path.mkdir(parents=True)
        for split, rows in facts_rows(seed).items():
            write_jsonl(rows, path / f"{split}.jsonl")

    folder = build_once(assets_root() / "eval" / f"facts-v{FACTS_VERSION}-seed{seed}", build)
    return {"test": folder / "test.jsonl", "train": folder / "train.jsonl"}


def load(packbench_seed: int | str = 0, **_: Any) -> Any:
    """The `datasets.DatasetDict` of the facts tasks (lm-eval's ``custom_dataset``).

    lm-eval calls it with the task metadata and ``dataset_kwargs`` as keyword
    arguments; everything but ``packbench_seed`` is ignored.
    """
    import datasets

    files = ensure_facts_data(int(packbench_seed))
    return datasets.load_dataset(
        "json",
        data_files={split: str(path) for split, path in files.items()},
        cache_dir=str(files["test"].parent / ".hf-datasets"),  # keep the user's HF cache clean
    )
