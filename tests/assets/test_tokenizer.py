"""The embedded tokenizer: files, round trip, chat template, Axolotl's strategy."""

from __future__ import annotations

from pathlib import Path

import pytest

from axolotl_packing_bench.assets import (
    conversation_num_tokens,
    ensure_tokenizer,
    generate_dataset,
)
from axolotl_packing_bench.assets.tokenizer import CHAT_TEMPLATE, SPECIAL_TOKENS

transformers = pytest.importorskip("transformers")

CONVERSATION = [
    {"role": "system", "content": "You are a guide."},
    {"role": "user", "content": "What is the river of Furaer?"},
    {"role": "assistant", "content": "The river of Furaer is Fouhon."},
]


@pytest.fixture(scope="module")
def tokenizer(built: Path):
    return transformers.AutoTokenizer.from_pretrained(str(built / "tokenizer"), local_files_only=True)


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return generate_dataset(200, seed=1, overlong_fraction=0.1)


def test_files_are_identical_when_built_twice(built: Path, home: Path):
    again = ensure_tokenizer()
    names = sorted(p.name for p in again.iterdir())
    assert names == sorted(p.name for p in (built / "tokenizer").iterdir())
    assert "tokenizer.json" in names
    for name in names:
        assert (again / name).read_bytes() == (built / "tokenizer" / name).read_bytes(), name


def test_special_tokens(tokenizer):
    assert tokenizer.convert_tokens_to_ids(list(SPECIAL_TOKENS)) == list(range(len(SPECIAL_TOKENS)))
    assert (
        tokenizer.bos_token,
        tokenizer.eos_token,
        tokenizer.pad_token,
        tokenizer.unk_token,
    ) == (
        "<|begin_of_text|>",
        "<|end_of_text|>",
        "<|pad|>",
        "<|unk|>",
    )
    for token in ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"):
        assert tokenizer.encode(token, add_special_tokens=False) == [tokenizer.convert_tokens_to_ids(token)]
    assert len(tokenizer) < 4000
    assert tokenizer("Hi")["input_ids"][0] == tokenizer.bos_token_id


def test_round_trip_without_unknown_tokens(tokenizer, rows):
    for row in rows:
        for message in row["messages"]:
            ids = tokenizer.encode(message["content"], add_special_tokens=False)
            assert tokenizer.unk_token_id not in ids
            assert tokenizer.decode(ids) == message["content"]
    assert (
        tokenizer.decode(tokenizer.encode("Hello, world\n\n  x", add_special_tokens=False)) == "<|unk|>,<|unk|>\n\n  x"
    )


def test_chat_template_renders_llama3_style(tokenizer):
    assert tokenizer.chat_template == CHAT_TEMPLATE
    two_turns = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
    ]
    assert tokenizer.apply_chat_template(two_turns, tokenize=False) == (
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nHello<|eot_id|>"
    )
    assert tokenizer.apply_chat_template(two_turns[:1], tokenize=False, add_generation_prompt=True) == (
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )


def test_token_counts_match_the_generator_and_prefixes_are_stable(tokenizer, rows):
    for row in rows:
        ids = tokenizer.apply_chat_template(row["messages"], tokenize=True, return_dict=False)
        assert len(ids) == conversation_num_tokens(row["messages"])
        # Rendering a prefix of the conversation tokenizes to a prefix of the ids.
        prefix = tokenizer.apply_chat_template(row["messages"][:-1], tokenize=True, return_dict=False)
        assert ids[: len(prefix)] == prefix
        assert ids.count(tokenizer.bos_token_id) == 1


def test_axolotl_chat_template_strategy_trains_assistant_turns_only(tokenizer, rows):
    chat_template = pytest.importorskip("axolotl.prompt_strategies.chat_template")
    from axolotl_packing_bench.compat.axolotl_api import DictDefault

    cfg = DictDefault({"sequence_len": 512, "train_on_inputs": False, "eot_tokens": ["<|eot_id|>"]})
    dataset_cfg = {
        "type": "chat_template",
        "field_messages": "messages",
        "chat_template": "tokenizer_default",
    }
    strategy = chat_template.load(tokenizer, cfg, dataset_cfg)
    for row in [{"messages": CONVERSATION, "topic": "t", "id": "x"}, *rows[:40]]:
        out = strategy.tokenize_prompt(row)
        assert out["input_ids"] == tokenizer.apply_chat_template(row["messages"], tokenize=True, return_dict=False)
        trained = [i for i, label in zip(out["input_ids"], out["labels"], strict=True) if label != -100]
        expected = "".join(m["content"] + "<|eot_id|>" for m in row["messages"] if m["role"] == "assistant")
        assert tokenizer.decode(trained) == expected
