"""Synthetic SFT conversations about invented facts, and a held-out QA split.

Each topic (see `lexicon.topics`) has facts: (entity, attribute, value)
triples such as "the river of Belmora is Selune". A conversation asks about
facts of one topic and the assistant states them, so answers are predictable
from the question once the facts are learned and a trained model's loss drops.

Lengths follow a truncated lognormal in tokens (real SFT data is long-tailed);
the generator counts tokens exactly, because the embedded tokenizer maps every
word, punctuation mark and newline to one token (see `count_tokens`).

Each fact is either trainable or held out (per seed). Held-out facts are still
*stated* in assistant answers ("Also, ...") but never *asked*: the context-
reliance probe asks them, with a related, conflicting or unrelated passage.

Deterministic: sample ``i`` of seed ``s`` depends on ``(s, i)`` only, so the
named datasets nest (the first 690 rows of ``synth-326k`` are ``synth-69k``).
Pure Python, no third-party imports.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from axolotl_packing_bench.assets.lexicon import (
    PREPOSITIONS,
    VERBS,
    Topic,
    topic_by_name,
    topics,
)

# The tokenizer's pre-tokenizer splits text exactly like this (one token per match).
TOKEN_PATTERN = r"\n| ?[A-Za-z]+| ?[0-9]| ?[^\sA-Za-z0-9]|\s"
_TOKEN_RE = re.compile(TOKEN_PATTERN)

# Chat-template tokens around each message's content:
# <|start_header_id|> role <|end_header_id|> \n \n ... <|eot_id|>
MESSAGE_OVERHEAD_TOKENS = 6
BOS_TOKENS = 1

HELDOUT_PER_TOPIC = 4

# The held-out chats every cell's held-out loss is measured on: sample indices
# no named or sized dataset reaches, so they never appear in training data.
HELDOUT_CHATS_START = 10_000_000
HELDOUT_CHATS = 240

_QUESTION_FORMS = (
    "What is the {attribute} of {entity}?",
    "Which {attribute} does {entity} have?",
    "Tell me the {attribute} of {entity}.",
    "Do you know the {attribute} of {entity}?",
)
_FOLLOW_UP_PREFIXES = (
    "",
    "Another question.",
    "Thanks.",
    "One more question.",
    "Thank you.",
)
_OPENERS = ("", "I am reading about {topic}.", "A question about {topic}.")


@dataclass(frozen=True)
class Fact:
    """One subject-attribute-value triple of a topic.

    Attributes:
        topic: Topic name.
        entity: The subject, an invented proper noun.
        attribute: An English noun such as ``"river"``.
        value: An invented proper noun from the topic's values.
        heldout: True when training data never asks this fact (it may state it).
    """

    topic: str
    entity: str
    attribute: str
    value: str
    heldout: bool = False

    def question(self, form: int = 0) -> str:
        """The question asking this fact, in one of the question forms."""
        return _QUESTION_FORMS[form % len(_QUESTION_FORMS)].format(entity=self.entity, attribute=self.attribute)

    def answer(self) -> str:
        """The one-sentence answer stating this fact."""
        return f"The {self.attribute} of {self.entity} is {self.value}."

    def statement(self) -> str:
        """The fact as a sentence naming its topic, used in passages."""
        return f"In {self.topic}, the {self.attribute} of {self.entity} is {self.value}."


@lru_cache(maxsize=8)
def topic_facts(seed: int = 0) -> tuple[Fact, ...]:
    """The fact table for ``seed``: every (entity, attribute) of every topic.

    Values are drawn from the topic's own values; ``HELDOUT_PER_TOPIC`` facts
    per topic are marked ``heldout``. Sorted by topic order, entity, attribute.
    """
    table = []
    for topic in topics():
        rng = random.Random(f"facts:{seed}:{topic.name}")
        pairs = [(e, a) for e in topic.entities for a in topic.attributes]
        heldout = set(rng.sample(range(len(pairs)), HELDOUT_PER_TOPIC))
        for index, (entity, attribute) in enumerate(pairs):
            table.append(
                Fact(
                    topic.name,
                    entity,
                    attribute,
                    rng.choice(topic.values),
                    index in heldout,
                )
            )
    return tuple(table)


def facts_by_topic(seed: int = 0) -> dict[str, list[Fact]]:
    """`topic_facts` grouped by topic name, in topic order."""
    grouped: dict[str, list[Fact]] = {t.name: [] for t in topics()}
    for fact in topic_facts(seed):
        grouped[fact.topic].append(fact)
    return grouped


def conflicting_fact(fact: Fact, *, seed: int = 0) -> Fact:
    """The same entity and attribute with another value of the same topic."""
    rng = random.Random(f"conflict:{seed}:{fact.topic}:{fact.entity}:{fact.attribute}")
    others = [v for v in topic_by_name(fact.topic).values if v != fact.value]
    return Fact(fact.topic, fact.entity, fact.attribute, rng.choice(others), fact.heldout)


def count_tokens(text: str) -> int:
    """Tokens of ``text`` under the embedded tokenizer (exact for lexicon text)."""
    return len(_TOKEN_RE.findall(text))


def conversation_num_tokens(messages: Sequence[Mapping[str, str]]) -> int:
    """Tokens of a conversation rendered with the embedded chat template."""
    return BOS_TOKENS + sum(MESSAGE_OVERHEAD_TOKENS + count_tokens(m["content"]) for m in messages)


def lore_sentence(topic: Topic, rng: random.Random) -> str:
    """A filler sentence in the topic's own words (learnable style, no facts)."""
    adjective, noun = rng.choice(topic.lore_adjectives), rng.choice(topic.lore_nouns)
    verb, preposition = rng.choice(VERBS), rng.choice(PREPOSITIONS)
    other_adjective, other_noun = (
        rng.choice(topic.lore_adjectives),
        rng.choice(topic.lore_nouns),
    )
    return f"The {adjective} {noun} of {topic.name} {verb} {preposition} the {other_adjective} {other_noun}."


def passage(fact: Fact, *, seed: int = 0, sentences: int = 3) -> str:
    """A short passage stating ``fact`` among lore sentences of its topic."""
    topic = topic_by_name(fact.topic)
    # Not keyed on the value: a fact and its conflicting variant get the same
    # passage but for that one word.
    rng = random.Random(f"passage:{seed}:{fact.topic}:{fact.entity}:{fact.attribute}")
    lines = [lore_sentence(topic, rng) for _ in range(max(sentences - 1, 0))]
    lines.insert(rng.randint(0, len(lines)), fact.statement())
    return " ".join(lines)


def _sample_length(
    rng: random.Random,
    *,
    mean_tokens: float,
    sigma: float,
    min_tokens: int,
    max_tokens: int,
    overlong_fraction: float,
) -> int:
    if overlong_fraction > 0 and rng.random() < overlong_fraction:
        return rng.randint(max_tokens + 1, 2 * max_tokens)
    mu = math.log(mean_tokens) - sigma * sigma / 2  # so the untruncated mean is mean_tokens
    while True:  # truncated lognormal: resample rather than pile mass on the bounds
        length = round(rng.lognormvariate(mu, sigma))
        if min_tokens <= length <= max_tokens:
            return length


def _fill(sentences: list[str], budget: int, make: Iterator[str]) -> None:
    """Append sentences from ``make`` while they fit in ``budget`` tokens."""
    used = count_tokens(" ".join(sentences))
    for sentence in make:
        cost = count_tokens(" " + sentence)
        if used + cost > budget:
            return
        sentences.append(sentence)
        used += cost


def _extra_sentences(topic: Topic, facts: Sequence[Fact], asked: Fact, rng: random.Random) -> Iterator[str]:
    """Endless sentences that lengthen an answer: other facts of the topic, lore."""
    while True:
        if rng.random() < 0.5:
            other = rng.choice(facts)  # held-out facts too: stated, never asked
            if other != asked:
                yield f"Also, the {other.attribute} of {other.entity} is {other.value}."
        else:
            yield lore_sentence(topic, rng)


def make_conversation(
    index: int,
    *,
    seed: int,
    mean_tokens: float,
    sigma: float,
    min_tokens: int,
    max_tokens: int,
    single_turn_share: float,
    max_turns: int,
    system_share: float,
    overlong_fraction: float,
) -> dict:
    """Sample ``index`` of the dataset for ``seed``; `generate_dataset` holds the defaults."""
    rng = random.Random(f"sample:{seed}:{index}")
    target = _sample_length(
        rng,
        mean_tokens=mean_tokens,
        sigma=sigma,
        min_tokens=min_tokens,
        max_tokens=max_tokens,
        overlong_fraction=overlong_fraction,
    )
    topic = rng.choice(topics())
    facts = facts_by_topic(seed)[topic.name]
    askable = [f for f in facts if not f.heldout]

    turns = 1 if rng.random() < single_turn_share else rng.randint(2, max(2, max_turns))
    turns = max(1, min(turns, target // 40))  # a turn costs ~30 tokens at least
    asked = rng.sample(askable, turns)

    messages: list[dict[str, str]] = []
    if rng.random() < system_share:
        messages.append(
            {
                "role": "system",
                "content": f"You are a guide to the {topic.kind} of {topic.name}.",
            }
        )
    user_texts = []
    for turn, fact in enumerate(asked):
        prefix = rng.choice(_OPENERS).format(topic=topic.name) if turn == 0 else rng.choice(_FOLLOW_UP_PREFIXES)
        user_texts.append(" ".join(p for p in (prefix, fact.question(rng.randrange(4))) if p))

    fixed = (
        BOS_TOKENS
        + sum(MESSAGE_OVERHEAD_TOKENS + count_tokens(m["content"]) for m in messages)
        + sum(2 * MESSAGE_OVERHEAD_TOKENS + count_tokens(u) for u in user_texts)
    )
    budget = max(target - fixed, 0)
    weights = [rng.random() + 0.5 for _ in asked]
    for turn, (fact, user_text) in enumerate(zip(asked, user_texts, strict=True)):
        share = budget * weights[turn] / sum(weights[turn:])
        sentences = [fact.answer()]

        _fill(sentences, int(share), _extra_sentences(topic, facts, fact, rng))
        answer = " ".join(sentences)
        budget -= count_tokens(answer)
        messages.append({"role": "user", "content": user_text})
        messages.append({"role": "assistant", "content": answer})
    return {"messages": messages, "topic": topic.name, "id": f"s{seed}-{index:07d}"}


def generate_dataset(
    n: int,
    *,
    seed: int = 0,
    path: str | Path | None = None,
    start: int = 0,
    mean_tokens: float = 128.0,
    sigma: float = 0.8,
    min_tokens: int = 32,
    max_tokens: int = 500,
    single_turn_share: float = 0.6,
    max_turns: int = 4,
    system_share: float = 0.2,
    overlong_fraction: float = 0.0,
) -> list[dict]:
    """Generate ``n`` conversations in OpenAI ``messages`` format.

    Args:
        n: Number of samples.
        seed: Chooses the fact table, held-out facts and every sample.
        path: If given, also write the rows there as JSONL.
        start: Index of the first sample (samples ``start .. start + n - 1``).
        mean_tokens: Mean of the lognormal length (tokens incl. template).
        sigma: Lognormal shape; larger means a longer tail.
        min_tokens: Lengths below are resampled.
        max_tokens: Lengths above are resampled (500 fits a 512-token capacity).
        single_turn_share: Share of one-question conversations; the rest have
            2 to ``max_turns`` question/answer turns. Short samples hold fewer
            turns, so the realized single-turn share is higher (75% at the
            defaults).
        max_turns: Most user/assistant turns in one conversation.
        system_share: Share of conversations opening with a system message.
        overlong_fraction: Share of samples drawn uniformly from
            ``(max_tokens, 2 * max_tokens]`` to exercise overflow policies;
            0 for every named dataset.

    Returns:
        Rows ``{"messages": [...], "topic": str, "id": str}``.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not 0 <= overlong_fraction <= 1:
        raise ValueError(f"overlong_fraction must be in [0, 1], got {overlong_fraction}")
    if not min_tokens <= mean_tokens <= max_tokens:
        raise ValueError(f"need min_tokens <= mean_tokens <= max_tokens, got {min_tokens}, {mean_tokens}, {max_tokens}")
    options = {
        "mean_tokens": mean_tokens,
        "sigma": sigma,
        "min_tokens": min_tokens,
        "max_tokens": max_tokens,
        "single_turn_share": single_turn_share,
        "max_turns": max_turns,
        "system_share": system_share,
        "overlong_fraction": overlong_fraction,
    }
    rows = [make_conversation(i, seed=seed, **options) for i in range(start, start + n)]
    if path is not None:
        write_jsonl(rows, path)
    return rows


def heldout_chats(seed: int = 0) -> list[dict]:
    """The held-out chats of ``seed``: the same world and generator, samples no dataset trains on."""
    return generate_dataset(HELDOUT_CHATS, seed=seed, start=HELDOUT_CHATS_START)


def heldout_rows(seed: int = 0) -> list[dict]:
    """The held-out QA split: one row per held-out fact of ``seed``.

    Fields: ``id, topic, entity, attribute, value, conflicting_value, question,
    answer, conflicting_answer, related_context, conflicting_context,
    unrelated_context``. Contexts are short passages that state the fact,
    state a conflicting value, or state a fact of another topic.
    """
    table = topic_facts(seed)
    names = [t.name for t in topics()]
    rows = []
    for fact in (f for f in table if f.heldout):
        rng = random.Random(f"heldout:{seed}:{fact.topic}:{fact.entity}:{fact.attribute}")
        conflict = conflicting_fact(fact, seed=seed)
        other_topic = rng.choice([name for name in names if name != fact.topic])
        unrelated = rng.choice([f for f in table if f.topic == other_topic])
        rows.append(
            {
                "id": f"heldout-s{seed}-{len(rows):04d}",
                "topic": fact.topic,
                "entity": fact.entity,
                "attribute": fact.attribute,
                "value": fact.value,
                "conflicting_value": conflict.value,
                "question": fact.question(),
                "answer": fact.answer(),
                "conflicting_answer": conflict.answer(),
                "related_context": passage(fact, seed=seed),
                "conflicting_context": passage(conflict, seed=seed),
                "unrelated_context": passage(unrelated, seed=seed),
            }
        )
    return rows


def few_shot_prompt(
    examples: Sequence[Fact],
    question: str,
    *,
    context: str | None = None,
    style: str = "chat",
) -> list[dict[str, str]] | str:
    """A k-shot prompt: ``examples`` as Q/A pairs, then ``question``.

    Args:
        examples: Facts shown with their answers, in order.
        question: The final question, left unanswered.
        context: Optional passage put just before the final question.
        style: ``"chat"`` returns messages (one user/assistant pair per
            example, then a user turn); ``"text"`` returns one string of
            ``Question: ...`` / ``Answer: ...`` lines ending in ``Answer:``.
    """
    final = f"{context}\n\n{question}" if context else question
    if style == "chat":
        messages: list[dict[str, str]] = []
        for fact in examples:
            messages += [
                {"role": "user", "content": fact.question()},
                {"role": "assistant", "content": fact.answer()},
            ]
        return [*messages, {"role": "user", "content": final}]
    if style == "text":
        shots = "".join(f"Question: {f.question()}\nAnswer: {f.answer()}\n\n" for f in examples)
        return f"{shots}Question: {final}\nAnswer:"
    raise ValueError(f"unknown style {style!r}; valid: chat, text")


def write_jsonl(rows: Sequence[Mapping], path: str | Path) -> None:
    """Write ``rows`` as JSON lines (UTF-8, ``\\n`` endings, stable bytes)."""
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
