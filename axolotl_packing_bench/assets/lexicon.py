"""The fixed word list every synthetic text is written from.

The lexicon is part of the asset recipe, not of a dataset seed: the tokenizer
is built from it once, so every dataset any seed generates tokenizes without an
unknown token. Topics get invented words of their own (names, values, lore
words) so that a topic is easy to tell apart by TF-IDF; the glue words
(`the`, `of`, `is`, ...) are shared English.

Pure Python, no third-party imports.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import lru_cache

# Changing any constant here changes every asset: bump RECIPE_VERSION in specs.py.
LEXICON_SEED = 1729
NUM_TOPICS = 24
ENTITIES_PER_TOPIC = 6
ATTRIBUTES_PER_TOPIC = 6
VALUES_PER_TOPIC = 12
LORE_NOUNS_PER_TOPIC = 8
LORE_ADJECTIVES_PER_TOPIC = 8

# What a topic is (used in system prompts and lore).
KINDS = (
    "realm",
    "guild",
    "archipelago",
    "orchard",
    "observatory",
    "monastery",
    "caravan",
    "citadel",
    "library",
    "harbor town",
    "river valley",
    "forge",
    "academy",
    "marsh",
    "festival",
    "colony",
    "desert city",
    "mountain pass",
    "vineyard",
    "lighthouse",
    "canal city",
    "steppe",
    "glacier",
    "bazaar",
)

# Attribute nouns: each topic draws ATTRIBUTES_PER_TOPIC of them.
ATTRIBUTES = (
    "river",
    "crown",
    "banner",
    "harbor",
    "mountain",
    "festival",
    "emblem",
    "founder",
    "guardian",
    "language",
    "currency",
    "capital",
    "instrument",
    "beverage",
    "flower",
    "beast",
    "mineral",
    "ship",
    "song",
    "law",
    "spice",
    "bridge",
    "tower",
    "market",
    "forest",
    "lantern",
    "garden",
    "star",
    "scroll",
    "mask",
    "drum",
    "coin",
    "horse",
    "bell",
    "gate",
    "well",
    "temple",
    "road",
    "cloak",
    "seal",
    "oath",
    "feast",
    "dance",
    "wind",
    "lake",
    "valley",
    "tree",
    "stone",
)

# Shared English glue: question and answer templates, lore sentences, prompts.
VERBS = (
    "rests",
    "shines",
    "grows",
    "waits",
    "sings",
    "turns",
    "glows",
    "drifts",
    "stands",
    "sleeps",
    "rises",
    "falls",
    "wanders",
    "gathers",
    "hums",
    "fades",
)
PREPOSITIONS = (
    "near",
    "beside",
    "under",
    "above",
    "behind",
    "beyond",
    "around",
    "across",
)
FUNCTION_WORDS = (
    "the",
    "of",
    "is",
    "a",
    "an",
    "and",
    "in",
    "to",
    "you",
    "me",
    "what",
    "which",
    "tell",
    "do",
    "does",
    "know",
    "have",
    "has",
    "also",
    "are",
    "guide",
    "about",
    "i",
    "am",
    "reading",
    "another",
    "question",
    "answer",
    "context",
    "please",
    "that",
    "so",
    "thank",
    "thanks",
    "it",
    "its",
    "at",
    "every",
    "dawn",
    "dusk",
    "night",
    "people",
    "say",
    "many",
    "travelers",
    "remember",
    "from",
    "old",
    "records",
    "show",
    "for",
    "true",
    "yes",
    "here",
    "one",
    "more",
    "fact",
    "facts",
    "known",
    "well",
    "as",
    "long",
    "ago",
    "today",
    "still",
    "were",
    "was",
    "called",
    "by",
    "with",
    "on",
    "next",
    "now",
    "again",
    "sure",
    "certainly",
    "indeed",
    "assistant",
    "user",
    "system",
    "helpful",
    "answers",
    "questions",
    "short",
    "clear",
    "write",
    "passage",
    "following",
    "based",
    "use",
    "only",
    "if",
    "not",
    "no",
    "be",
    "can",
    "will",
    "this",
    "there",
    "they",
    "their",
    "each",
)

_ONSETS = (
    "b",
    "br",
    "c",
    "d",
    "dr",
    "f",
    "g",
    "gr",
    "h",
    "k",
    "kr",
    "l",
    "m",
    "n",
    "p",
    "qu",
    "r",
    "s",
    "st",
    "t",
    "th",
    "tr",
    "v",
    "vr",
    "z",
    "zh",
)
_VOWELS = ("a", "e", "i", "o", "u", "ae", "ei", "ou", "y")
_CODAS = ("", "", "", "n", "r", "l", "s", "th", "x", "m", "nd", "sk")

_WORD_RE = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True)
class Topic:
    """One invented topic and its own words.

    Attributes:
        name: Capitalized invented name, e.g. ``"Quorvath"``.
        kind: What it is, in English, e.g. ``"realm"``.
        entities: Invented proper nouns the facts are about.
        attributes: English attribute nouns, e.g. ``"river"``.
        values: Invented proper nouns facts take as values.
        lore_nouns: Invented lowercase nouns for lore sentences.
        lore_adjectives: Invented lowercase adjectives for lore sentences.
    """

    name: str
    kind: str
    entities: tuple[str, ...]
    attributes: tuple[str, ...]
    values: tuple[str, ...]
    lore_nouns: tuple[str, ...]
    lore_adjectives: tuple[str, ...]


def _invent(rng: random.Random, taken: set[str], syllables: tuple[int, int]) -> str:
    while True:
        count = rng.randint(*syllables)
        word = "".join(
            rng.choice(_ONSETS) + rng.choice(_VOWELS) + (rng.choice(_CODAS) if i == count - 1 else "")
            for i in range(count)
        )
        if 4 <= len(word) <= 11 and word not in taken:
            taken.add(word)
            return word


def _proper_nouns(rng: random.Random, taken: set[str], n: int) -> tuple[str, ...]:
    return tuple(_invent(rng, taken, (2, 3)).capitalize() for _ in range(n))


def _common_words(rng: random.Random, taken: set[str], n: int) -> tuple[str, ...]:
    return tuple(_invent(rng, taken, (1, 2)) for _ in range(n))


@lru_cache(maxsize=1)
def topics() -> tuple[Topic, ...]:
    """The fixed topics of this asset recipe, in a stable order."""
    rng = random.Random(LEXICON_SEED)
    taken = {w.lower() for w in (*KINDS, *ATTRIBUTES, *VERBS, *PREPOSITIONS, *FUNCTION_WORDS)}
    result = []
    for index in range(NUM_TOPICS):
        result.append(
            Topic(
                name=_invent(rng, taken, (2, 3)).capitalize(),
                kind=KINDS[index % len(KINDS)],
                entities=_proper_nouns(rng, taken, ENTITIES_PER_TOPIC),
                attributes=tuple(rng.sample(ATTRIBUTES, ATTRIBUTES_PER_TOPIC)),
                values=_proper_nouns(rng, taken, VALUES_PER_TOPIC),
                lore_nouns=_common_words(rng, taken, LORE_NOUNS_PER_TOPIC),
                lore_adjectives=_common_words(rng, taken, LORE_ADJECTIVES_PER_TOPIC),
            )
        )
    return tuple(result)


def topic_by_name(name: str) -> Topic:
    """The topic called ``name``; ValueError listing the valid names otherwise."""
    for topic in topics():
        if topic.name == name:
            return topic
    raise ValueError(f"unknown topic {name!r}; valid: {', '.join(t.name for t in topics())}")


def lexicon_words() -> list[str]:
    """Every word synthetic text may contain, each in the cases it may appear in.

    Proper nouns appear capitalized only; English words appear lowercase and
    capitalized (sentence starts). Sorted, no duplicates.
    """
    words: set[str] = {"I"}
    english = [*KINDS, *ATTRIBUTES, *VERBS, *PREPOSITIONS, *FUNCTION_WORDS]
    for phrase in english:
        for word in _WORD_RE.findall(phrase):
            words.update((word, word.capitalize()))
    for topic in topics():
        words.update((topic.name, *topic.entities, *topic.values))
        for word in (*topic.lore_nouns, *topic.lore_adjectives):
            words.update((word, word.capitalize()))
    return sorted(words)
