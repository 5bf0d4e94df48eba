"""Held-out loss: assistant tokens only, unpacked, and the same whatever the cell's strategy."""

from __future__ import annotations

import json
import math

import pytest

from tests.plugin.conftest import axolotl_train, chat_dataset, recipe

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    return transformers.AutoTokenizer.from_pretrained(tiny_model, local_files_only=True)


@pytest.fixture(scope="module")
def heldout_file(tmp_path_factory) -> str:
    from axolotl_packing_bench.assets import ensure_heldout_chats

    return str(ensure_heldout_chats())


CHAT = [
    {"role": "system", "content": "You are a guide."},
    {"role": "user", "content": "What is the river of Furaer?"},
    {"role": "assistant", "content": "The river of Furaer is Fouhon."},
    {"role": "user", "content": "Thanks."},
    {"role": "assistant", "content": "Also, the crown of Furaer is Heive."},
]


def test_labels_cover_exactly_the_assistant_replies_and_their_end_of_turn(tokenizer):
    from axolotl_packing_bench.plugin.heldout import encode_chats

    ((ids, labels),) = encode_chats(tokenizer, [CHAT], max_tokens=512)
    assert len(ids) == len(labels)
    scored = tokenizer.decode([i for i, label in zip(ids, labels, strict=True) if label != -100])
    assert scored == ("The river of Furaer is Fouhon.<|eot_id|>Also, the crown of Furaer is Heive.<|eot_id|>")
    assert all(label in (-100, token) for token, label in zip(ids, labels, strict=True))


def test_chats_without_a_reply_are_skipped_and_an_empty_file_is_one_sentence(tokenizer, tmp_path):
    from axolotl_packing_bench.plugin.heldout import HeldoutDataError, encode_chats, load_heldout

    assert encode_chats(tokenizer, [[{"role": "user", "content": "Hi"}]], max_tokens=64) == []
    only_users = tmp_path / "users.jsonl"
    only_users.write_text(json.dumps({"messages": [{"role": "user", "content": "Hi"}]}) + "\n")
    with pytest.raises(HeldoutDataError, match="users.jsonl has no assistant reply to score"):
        load_heldout(only_users, tokenizer, max_samples=None, max_tokens=64)
    with pytest.raises(HeldoutDataError, match="does not exist; set packbench_heldout"):
        load_heldout(tmp_path / "missing.jsonl", tokenizer, max_samples=None, max_tokens=64)


def test_a_missing_file_suggests_a_uri_that_resolves(tmp_path):
    import re
    from pathlib import Path

    from axolotl_packing_bench.assets import resolve_asset_uri
    from axolotl_packing_bench.plugin.heldout import HeldoutDataError, load_heldout

    with pytest.raises(HeldoutDataError) as caught:
        load_heldout(tmp_path / "missing.jsonl", None, max_samples=None, max_tokens=64)
    (uri,) = re.findall(r"packbench://\S+?(?=\.?$)", str(caught.value))
    path = Path(resolve_asset_uri(uri))
    assert path.is_file() and path.suffix == ".jsonl"


def test_loss_is_the_token_mean_of_one_chat_per_row(tiny_model, tokenizer, heldout_file):
    from axolotl_packing_bench.plugin.heldout import heldout_loss, load_heldout

    model = transformers.AutoModelForCausalLM.from_pretrained(tiny_model, local_files_only=True).eval()
    encoded = load_heldout(heldout_file, tokenizer, max_samples=12, max_tokens=512)
    batched = heldout_loss(model, encoded, batch_size=5)
    # the same figure by hand: each chat alone, no padding, summed over scored tokens
    total, count = 0.0, 0
    with torch.no_grad():
        for ids, labels in encoded:
            logits = model(input_ids=torch.tensor([ids])).logits[0, :-1]
            targets = torch.tensor(labels[1:])
            total += float(torch.nn.functional.cross_entropy(logits, targets, ignore_index=-100, reduction="sum"))
            count += int((targets != -100).sum())
    assert batched["tokens"] == count and batched["samples"] == 12
    assert batched["loss"] == pytest.approx(total / count, abs=1e-5)
    assert math.log(len(tokenizer)) * 0.8 < batched["loss"]  # an untrained model is near chance


@pytest.mark.slow
def test_same_model_same_heldout_loss_whatever_the_strategy_and_training_lowers_it(
    tiny_model, tiny_dataset, heldout_file, tmp_path
):
    losses = {}
    for strategy in ("padding", "bfd", "random", "native"):
        cfg = recipe(
            tiny_model,
            chat_dataset(tiny_dataset),
            tmp_path / strategy,
            packbench_strategy=strategy,
            learning_rate=0.0,
            max_steps=2,
            packbench_heldout=heldout_file,
            packbench_heldout_max_samples=40,
        )
        proc, metrics = axolotl_train(cfg, tmp_path / strategy)
        assert proc.returncode == 0, proc.stderr[-3000:]
        heldout = metrics["heldout"]
        assert heldout["samples"] == 40 and heldout["tokens"] > 1000 and heldout["source"] == heldout_file
        losses[strategy] = heldout["loss"]
    # learning rate 0 leaves the weights alone: scoring does not depend on how rows were packed
    assert max(losses.values()) - min(losses.values()) <= 1e-6, losses

    cfg = recipe(
        tiny_model,
        chat_dataset(tiny_dataset),
        tmp_path / "trained",
        packbench_strategy="bfd",
        learning_rate=3e-3,
        num_epochs=2,
        packbench_heldout=heldout_file,
        packbench_heldout_max_samples=40,
    )
    proc, metrics = axolotl_train(cfg, tmp_path / "trained")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert metrics["heldout"]["loss"] < losses["padding"] - 0.5  # fine-tuning lowers the held-out loss
    assert metrics["training"]["final_train_loss"] != metrics["heldout"]["loss"]
