"""The pre-training corpus of the embedded bases: the synthetic world, read and asked.

The tiny bases are pre-trained before any matrix cell fine-tunes them, so a
cell is SFT as in the paper. Four kinds of document, all in the words of the
synthetic world (`lexicon`), none stating the world's own fact table (that is
what the SFT data teaches):

| kind        | text                                                        | loss on       |
| ----------- | ----------------------------------------------------------- | ------------- |
| `topic`     | lore sentences of one topic                                 | every token   |
| `reading`   | a chat: a passage of 2-4 facts, then every fact asked once  | the answers   |
| `text_qa`   | the same as ``Passage / Question: / Answer:`` plain text     | the answers   |
| `few_shot`  | k chat turns of questions answered from earlier passages     | the answers   |

Facts in these documents pair entities, attributes and values of a topic at
random (`random_fact`), so an answer can only come from the passage: memory
cannot help, reading must. Supervision is dense on reading (every stated fact
is asked once), which is what makes a model of this size learn it within
minutes (see ../shared/ANCHORS.md). The passages look like the probe's
(`synthetic.passage`): the statement ``In T, the A of E is V.`` among lore
sentences of the topic.

A document is a list of ``(text, trained)`` pieces plus special tokens; the
pre-training loop tokenizes the pieces and trains on the ``trained`` ones.
Deterministic: document ``i`` depends on ``(seed, i)`` only. Pure Python.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from axolotl_packing_bench.assets.lexicon import Topic, topics
from axolotl_packing_bench.assets.synthetic import Fact, lore_sentence

KINDS: tuple[str, ...] = ("topic", "reading", "text_qa", "few_shot")
# Share of each kind in the corpus, in KINDS order: mostly reading, a little plain text.
MIX: tuple[float, ...] = (0.1, 0.5, 0.15, 0.25)

BOS, EOT = "<|begin_of_text|>", "<|eot_id|>"
HEADER = "<|start_header_id|>{role}<|end_header_id|>\n\n"


@dataclass(frozen=True)
class Piece:
    """A run of text (or one special token) and whether the loss covers it."""

    text: str
    trained: bool = False
    special: bool = False


def random_fact(topic: Topic, rng: random.Random) -> Fact:
    """A fact of ``topic`` with its entity, attribute and value drawn at random."""
    return Fact(topic.name, rng.choice(topic.entities), rng.choice(topic.attributes), rng.choice(topic.values))


def distinct_facts(topic: Topic, rng: random.Random, n: int) -> list[Fact]:
    """``n`` random facts of ``topic`` with distinct (entity, attribute) pairs."""
    pairs = rng.sample([(e, a) for e in topic.entities for a in topic.attributes], n)
    return [Fact(topic.name, e, a, rng.choice(topic.values)) for e, a in pairs]


def fact_passage(facts: list[Fact], topic: Topic, rng: random.Random, *, lore: int) -> str:
    """The facts' statements with ``lore`` lore sentences mixed in at random places."""
    lines = [fact.statement() for fact in facts]
    for _ in range(lore):
        lines.insert(rng.randint(0, len(lines)), lore_sentence(topic, rng))
    return " ".join(lines)


def _chat(turns: list[tuple[str, str]]) -> list[Piece]:
    """A chat rendered as the embedded template does, loss on assistant turns."""
    pieces = [Piece(BOS, special=True)]
    for role, content in turns:
        pieces += [
            Piece("<|start_header_id|>", special=True),
            Piece(role),
            Piece("<|end_header_id|>", special=True),
            Piece("\n\n"),
            Piece(content.strip(), trained=role == "assistant"),
            Piece(EOT, special=True, trained=role == "assistant"),
        ]
    return pieces


def topic_document(topic: Topic, rng: random.Random) -> list[Piece]:
    """Lore of one topic, trained on every token."""
    sentences = " ".join(lore_sentence(topic, rng) for _ in range(rng.randint(3, 6)))
    return [Piece(BOS, special=True), Piece(sentences, trained=True)]


def reading_document(topic: Topic, rng: random.Random) -> list[Piece]:
    """A passage of 2-4 facts in the first user turn, then each fact asked once."""
    facts = distinct_facts(topic, rng, rng.randint(2, 4))
    text = fact_passage(facts, topic, rng, lore=rng.randint(0, 2))
    order = rng.sample(facts, len(facts))
    turns = []
    for index, fact in enumerate(order):
        question = fact.question(rng.randrange(4))
        turns += [("user", f"{text}\n\n{question}" if index == 0 else question), ("assistant", fact.answer())]
    return _chat(turns)


def text_qa_document(topic: Topic, rng: random.Random) -> list[Piece]:
    """The reading task as plain text: passage, then ``Question:``/``Answer:`` lines."""
    facts = distinct_facts(topic, rng, rng.randint(2, 4))
    pieces = [Piece(BOS, special=True), Piece(fact_passage(facts, topic, rng, lore=rng.randint(0, 2)) + "\n")]
    for fact in rng.sample(facts, len(facts)):
        pieces += [
            Piece(f"\nQuestion: {fact.question(rng.randrange(4))}\nAnswer:"),
            Piece(" " + fact.answer(), trained=True),
        ]
    return pieces


def few_shot_document(topic: Topic, rng: random.Random) -> list[Piece]:
    """k one-fact passages, each asked in its own turn: answers follow the latest passage."""
    turns = []
    for _ in range(rng.randint(2, 4)):
        fact = random_fact(topic, rng)
        text = fact_passage([fact], topic, rng, lore=rng.randint(0, 2))
        turns += [("user", f"{text}\n\n{fact.question(rng.randrange(4))}"), ("assistant", fact.answer())]
    return _chat(turns)


_MAKERS = {
    "topic": topic_document,
    "reading": reading_document,
    "text_qa": text_qa_document,
    "few_shot": few_shot_document,
}


def document(index: int, *, seed: int) -> tuple[str, list[Piece]]:
    """Document ``index`` of the corpus for ``seed``: its kind and pieces."""
    rng = random.Random(f"corpus:{seed}:{index}")
    kind = rng.choices(KINDS, weights=MIX)[0]
    return kind, _MAKERS[kind](rng.choice(topics()), rng)
