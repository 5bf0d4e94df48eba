"""The synthetic SFT generator, fact table and held-out QA split (pure Python)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from axolotl_packing_bench.assets import (
    conflicting_fact,
    conversation_num_tokens,
    count_tokens,
    few_shot_prompt,
    generate_dataset,
    heldout_rows,
    topic_facts,
)
from axolotl_packing_bench.assets.lexicon import NUM_TOPICS, topics
from axolotl_packing_bench.assets.synthetic import HELDOUT_PER_TOPIC


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return generate_dataset(2000, seed=0)


def quantile(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[round(q * (len(ordered) - 1))]


def last_sentence(text: str) -> str:
    return text.split(". ")[-1]


class TestFormat:
    def test_row_count_and_messages_format(self, rows):
        assert len(rows) == 2000
        for row in rows:
            assert set(row) == {"messages", "topic", "id"}
            roles = [m["role"] for m in row["messages"]]
            if roles[0] == "system":
                roles = roles[1:]
            assert roles == ["user", "assistant"] * (len(roles) // 2)
            assert all(isinstance(m["content"], str) and m["content"] == m["content"].strip() for m in row["messages"])
        assert len({row["id"] for row in rows}) == len(rows)

    def test_single_and_multi_turn_present(self, rows):
        turns = Counter(sum(m["role"] == "user" for m in row["messages"]) for row in rows)
        assert set(turns) == {1, 2, 3, 4}
        assert 0.5 < turns[1] / len(rows) < 0.9

    def test_every_topic_present(self, rows):
        assert {row["topic"] for row in rows} == {t.name for t in topics()}
        assert len(topics()) == NUM_TOPICS

    def test_lengths_long_tailed_and_within_bounds(self, rows):
        lengths = [conversation_num_tokens(row["messages"]) for row in rows]
        assert quantile(lengths, 0.99) / quantile(lengths, 0.5) > 3
        assert min(lengths) >= 24 and max(lengths) <= 500

    def test_overlong_fraction_gives_samples_past_max_tokens(self):
        lengths = [conversation_num_tokens(r["messages"]) for r in generate_dataset(400, overlong_fraction=0.05)]
        overlong = sum(length > 512 for length in lengths)
        assert 5 <= overlong <= 40

    def test_write_jsonl(self, tmp_path: Path):
        path = tmp_path / "d.jsonl"
        rows = generate_dataset(5, seed=3, path=path)
        assert [json.loads(line) for line in path.read_text().splitlines()] == rows


class TestDeterminism:
    def test_same_seed_same_bytes(self, tmp_path: Path):
        generate_dataset(300, seed=7, path=tmp_path / "a.jsonl")
        generate_dataset(300, seed=7, path=tmp_path / "b.jsonl")
        assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()

    def test_other_seed_other_data(self):
        assert generate_dataset(20, seed=0) != generate_dataset(20, seed=1)

    def test_smaller_dataset_is_a_prefix(self, rows):
        assert generate_dataset(50) == rows[:50]


class TestFacts:
    def test_table_shape_and_heldout_split(self):
        table = topic_facts(0)
        assert len({(f.entity, f.attribute) for f in table}) == len(table)
        heldout = [f for f in table if f.heldout]
        assert len(heldout) == HELDOUT_PER_TOPIC * NUM_TOPICS
        assert topic_facts(0) == table and topic_facts(1) != table

    def test_answers_follow_the_fact_table(self, rows):
        values = {(f.entity, f.attribute): f.value for f in topic_facts(0)}
        facts = {f.question(form): f for f in topic_facts(0) for form in range(4)}
        checked = 0
        for row in rows:
            messages = [m for m in row["messages"] if m["role"] != "system"]
            for user, assistant in zip(messages[::2], messages[1::2], strict=True):
                fact = facts[last_sentence(user["content"])]
                assert fact.topic == row["topic"]
                assert assistant["content"].startswith(fact.answer())
                assert values[(fact.entity, fact.attribute)] == fact.value
                checked += 1
        assert checked > len(rows)

    def test_heldout_facts_never_asked_in_training(self, rows):
        heldout_questions = {r["question"] for r in heldout_rows(0)}
        heldout_pairs = {(f.entity, f.attribute) for f in topic_facts(0) if f.heldout}
        asked = {f.question(k) for f in topic_facts(0) if f.heldout for k in range(4)}
        assert heldout_questions <= asked
        for row in rows:
            for message in row["messages"]:
                if message["role"] == "user":
                    assert last_sentence(message["content"]) not in asked, message
        assert len(heldout_pairs) == len(heldout_rows(0))

    def test_conflicting_fact_changes_only_the_value(self):
        fact = topic_facts(0)[0]
        other = conflicting_fact(fact)
        assert (other.topic, other.entity, other.attribute) == (
            fact.topic,
            fact.entity,
            fact.attribute,
        )
        assert other.value != fact.value
        assert conflicting_fact(fact) == other


class TestHeldout:
    def test_fields_and_contexts(self):
        rows = heldout_rows(0)
        assert len(rows) == HELDOUT_PER_TOPIC * NUM_TOPICS
        for row in rows:
            assert row["answer"] == f"The {row['attribute']} of {row['entity']} is {row['value']}."
            assert row["conflicting_answer"].endswith(f"{row['conflicting_value']}.")
            assert row["value"] != row["conflicting_value"]
            assert f"is {row['value']}." in row["related_context"]
            assert f"is {row['conflicting_value']}." in row["conflicting_context"]
            # The conflicting passage is the related one with the value swapped.
            assert row["related_context"].replace(row["value"], row["conflicting_value"]) == row["conflicting_context"]
            assert row["topic"] not in row["unrelated_context"]
        assert heldout_rows(0) == rows

    def test_few_shot_prompt_chat_and_text(self):
        shots = [f for f in topic_facts(0) if not f.heldout][:2]
        question = heldout_rows(0)[0]["question"]
        messages = few_shot_prompt(shots, question, context="Some context.")
        assert [m["role"] for m in messages] == [
            "user",
            "assistant",
            "user",
            "assistant",
            "user",
        ]
        assert messages[1]["content"] == shots[0].answer()
        assert messages[-1]["content"] == f"Some context.\n\n{question}"
        text = few_shot_prompt(shots, question, style="text")
        assert text.startswith(f"Question: {shots[0].question()}\nAnswer: {shots[0].answer()}\n\n")
        assert text.endswith(f"Question: {question}\nAnswer:")
        with pytest.raises(ValueError, match="chat, text"):
            few_shot_prompt(shots, question, style="xml")


def test_count_tokens_counts_words_punctuation_and_newlines():
    assert count_tokens("The river of Belmora is Selune.") == 7
    assert count_tokens("Hi\n\nthere?") == 5
