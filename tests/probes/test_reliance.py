"""The reliance probe against models whose reliance is known by construction."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

from axolotl_packing_bench.cli import main
from axolotl_packing_bench.probes.reliance import (
    ProbeDataError,
    Question,
    condition_messages,
    format_table,
    load_questions,
    normalize_answer,
    paired_bootstrap,
    probe_model,
)

STATEMENT = re.compile(r"the (\w+) of (\w+) is (\w+)", re.IGNORECASE)


def make_questions(n: int = 10) -> list[Question]:
    rows = []
    for i in range(n):
        entity, value, other = f"Ent{i}", f"Val{i}", f"Alt{i}"
        rows.append(
            Question(
                question=f"What is the river of {entity}?",
                answer=f"The river of {entity} is {value}.",
                related_context=f"Lore words. In Topic, the river of {entity} is {value}.",
                conflicting_context=f"Lore words. In Topic, the river of {entity} is {other}.",
                unrelated_context=f"Other words. In Elsewhere, the banner of Zed{i} is Nope{i}.",
                value=value,
                conflicting_value=other,
                id=str(i),
            )
        )
    return rows


class CopyModel:
    """Answers from a passage about the asked entity when there is one, else from memory.

    It memorizes the even-numbered questions. Losses: 0.1 for the right
    value, 3.0 for a wrong one, 2.0 when it knows nothing; few-shot examples
    lower any loss by 0.25. Replies are the answer sentence, or "I do not know".
    """

    def __init__(self, questions):
        self.memory = {q.question: q.value for i, q in enumerate(questions) if i % 2 == 0}
        self.gold = {q.question: q.value for q in questions}

    def _predict(self, messages):
        *context, question = messages[-1]["content"].split("\n\n")
        asked = re.search(r"the (\w+) of (\w+)\?", question).groups()
        for passage in context:
            for attribute, entity, value in STATEMENT.findall(passage):
                if (attribute, entity) == asked:
                    return question, asked, value
        return question, asked, self.memory.get(question)

    def answer_loss(self, messages, answer):
        question, _, predicted = self._predict(messages)
        loss = 2.0 if predicted is None else 0.1 if predicted == self.gold[question] else 3.0
        return loss - (0.25 if len(messages) > 1 else 0.0)

    def generate(self, messages, max_new_tokens):
        _, (attribute, entity), predicted = self._predict(messages)
        return "I do not know." if predicted is None else f"The {attribute} of {entity} is {predicted}."


class BlindModel(CopyModel):
    """Never reads context: a model that disregards it."""

    def _predict(self, messages):
        question = messages[-1]["content"].split("\n\n")[-1]
        asked = re.search(r"the (\w+) of (\w+)\?", question).groups()
        return question, asked, self.memory.get(question)


def test_known_reliance_of_a_copying_model():
    questions = make_questions(10)
    result = probe_model(CopyModel(questions), questions, k=2, bootstrap=500, seed=0)
    c, e = result["conditions"], result["effects"]
    # half memorized: none = (0.1 + 2.0) / 2; related context gives every answer; conflict misleads all
    assert c["none"]["answer_loss"] == pytest.approx(1.05)
    assert c["related"]["answer_loss"] == pytest.approx(0.1)
    assert c["conflicting"]["answer_loss"] == pytest.approx(3.0)
    assert c["unrelated"]["answer_loss"] == pytest.approx(1.05)
    assert c["few_shot"]["answer_loss"] == pytest.approx(0.8)
    assert (c["none"]["exact_match"], c["related"]["exact_match"], c["conflicting"]["exact_match"]) == (0.5, 1.0, 0.0)
    assert e["reliance"]["answer_loss"]["mean"] == pytest.approx(0.95)
    assert e["distraction"]["answer_loss"]["mean"] == pytest.approx(1.95)
    assert e["unrelated"]["answer_loss"] == {"mean": 0.0, "ci": [0.0, 0.0], "ci_includes_zero": True}
    assert e["few_shot"]["answer_loss"] == {"mean": 0.25, "ci": [0.25, 0.25], "ci_includes_zero": False}
    assert e["fact_use"]["answer_loss"] == {"mean": 2.9, "ci": [2.9, 2.9], "ci_includes_zero": False}
    assert e["fact_use"]["exact_match"]["mean"] == 1.0
    assert e["reliance"]["exact_match"]["mean"] == pytest.approx(0.5)
    assert e["distraction"]["exact_match"]["mean"] == pytest.approx(0.5)
    # per-question reliance is 1.9 (unknown) or 0.0 (memorized): the interval stays inside that range
    low, high = e["reliance"]["answer_loss"]["ci"]
    assert 0.0 < low <= 0.95 <= high < 1.9
    assert result["disregards_context"] is False and result["context_use"] == "uses"
    assert result["conflict_followed"] == 1.0
    table = format_table(result)
    assert "reliance (related context helps) | +0.950" in table and "uses related context" in table


def test_a_model_that_ignores_context_is_flagged():
    questions = make_questions(8)
    result = probe_model(BlindModel(questions), questions, k=0, bootstrap=200, seed=1)
    assert result["effects"]["reliance"]["answer_loss"] == {"mean": 0.0, "ci": [0.0, 0.0], "ci_includes_zero": True}
    assert result["disregards_context"] is True and result["context_use"] == "disregards"
    assert result["effects"]["fact_use"]["answer_loss"]["mean"] == 0.0
    assert "few_shot" not in result["conditions"] and "few_shot" not in result["effects"]
    assert "DISREGARDS" in format_table(result)


def test_answer_loss_only():
    questions = make_questions(4)
    result = probe_model(CopyModel(questions), questions, k=1, bootstrap=50, generate=False)
    assert "exact_match" not in result["conditions"]["none"]
    assert "exact_match" not in result["effects"]["reliance"]
    assert result["conflict_followed"] is None


def test_messages_per_condition():
    questions = make_questions(3)
    assert condition_messages(questions, 0, "none") == [{"role": "user", "content": questions[0].question}]
    related = condition_messages(questions, 0, "related")[0]["content"]
    assert related == f"{questions[0].related_context}\n\n{questions[0].question}"
    shots = condition_messages(questions, 0, "few_shot", [1, 2])
    assert [m["role"] for m in shots] == ["user", "assistant", "user", "assistant", "user"]
    assert shots[1]["content"] == questions[1].answer


class TestBootstrap:
    def test_paired_resamples_and_determinism(self):
        rng = np.random.default_rng(0)
        a = rng.normal(1.0, 1.0, 200)
        one = paired_bootstrap({"a": a, "b": -a}, resamples=400, seed=3)
        two = paired_bootstrap({"a": a, "b": -a}, resamples=400, seed=3)
        assert one == two
        # the same resampled questions for every difference: b's interval mirrors a's exactly
        assert one["b"]["ci"] == pytest.approx([-one["a"]["ci"][1], -one["a"]["ci"][0]])
        assert one["a"]["ci"][0] < a.mean() < one["a"]["ci"][1] and not one["a"]["ci_includes_zero"]

    def test_unequal_lengths(self):
        with pytest.raises(ValueError, match="same questions"):
            paired_bootstrap({"a": np.zeros(3), "b": np.zeros(4)})


def test_normalize_answer():
    assert normalize_answer("  The River of X is  Y. ") == "river of x is y"


class TestData:
    def test_missing_fields(self, tmp_path):
        path = tmp_path / "q.jsonl"
        path.write_text(json.dumps({"question": "q", "answer": "a"}) + "\n")
        with pytest.raises(ProbeDataError, match=r"q.jsonl:1 lacks related_context, conflicting_context"):
            load_questions(path)

    def test_a_line_that_is_not_json(self, tmp_path):
        path = tmp_path / "q.jsonl"
        path.write_text("{not json\n")
        with pytest.raises(ProbeDataError, match=r"line 1 of .*q.jsonl is not valid JSON"):
            load_questions(path)

    def test_missing_file(self, tmp_path):
        with pytest.raises(ProbeDataError, match="does not exist"):
            load_questions(tmp_path / "none.jsonl")

    def test_embedded_heldout_split(self):
        from axolotl_packing_bench.assets import ensure_heldout

        questions = load_questions(ensure_heldout(0))
        assert len(questions) == 96 and all(q.value in q.answer for q in questions)


class TestTransformersModel:
    @pytest.fixture(scope="class")
    def model(self):
        import torch

        from axolotl_packing_bench.assets import ensure_model
        from axolotl_packing_bench.probes.reliance import HFChatModel

        torch.manual_seed(0)
        return HFChatModel.from_pretrained(ensure_model("tiny-8b-init"))

    def test_answer_loss_is_the_mean_nll_of_the_answer_tokens(self, model):
        import torch

        messages = [{"role": "user", "content": "What is the river of Furaer?"}]
        answer = "The river of Furaer is Fouhon."
        prompt, target = model.encode(messages, answer)
        assert model.tokenizer.decode(target) == answer + "<|eot_id|>"
        with torch.no_grad():
            logits = model.model(input_ids=torch.tensor([prompt + target])).logits[0]
        logp = torch.log_softmax(logits.double(), -1)
        expected = -np.mean([float(logp[len(prompt) + i - 1, t]) for i, t in enumerate(target)])
        assert model.answer_loss(messages, answer) == pytest.approx(expected, abs=1e-4)
        batched = model.answer_losses([messages, [{"role": "user", "content": "Hi?"}]], [answer, "Yes."])
        assert batched[0] == pytest.approx(expected, abs=1e-4)
        assert batched[1] == pytest.approx(model.answer_loss([{"role": "user", "content": "Hi?"}], "Yes."), abs=1e-4)

    def test_batched_generation_matches_one_at_a_time(self, model):
        prompts = [
            [{"role": "user", "content": "What is the river of Furaer?"}],
            [{"role": "user", "content": "Lore.\n\nWhich crown does Belmora have? Tell me please."}],
        ]
        assert model.generate_many(prompts, [6, 9]) == [model.generate(p, b) for p, b in zip(prompts, [6, 9])]


class TestCli:
    def test_help(self):
        result = CliRunner().invoke(main, ["probe", "reliance", "--help"], catch_exceptions=False)
        assert result.exit_code == 0 and "--bootstrap" in result.output

    def test_bad_model_dir(self, tmp_path):
        result = CliRunner().invoke(
            main, ["probe", "reliance", "--model", str(tmp_path / "x"), "--data", "d.jsonl"], catch_exceptions=False
        )
        assert result.exit_code == 2 and "is not a directory" in result.output

    def test_bad_data(self, tmp_path):
        result = CliRunner().invoke(
            main,
            ["probe", "reliance", "--model", str(tmp_path), "--data", str(tmp_path / "none.jsonl")],
            catch_exceptions=False,
        )
        assert result.exit_code == 2 and "does not exist" in result.output

    def test_runs_on_the_tiny_model(self, tmp_path):
        from axolotl_packing_bench.assets import ensure_model

        out = tmp_path / "r.json"
        result = CliRunner().invoke(
            main,
            [
                "probe",
                "reliance",
                "--model",
                str(ensure_model("tiny-8b-init")),
                "--data",
                "packbench://heldout?seed=0",
                "--max-questions",
                "6",
                "--k",
                "2",
                "--bootstrap",
                "50",
                "--threads",
                "1",
                "--json",
                str(out),
            ],
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output
        assert "| none |" in result.output and "few-shot gain" in result.output
        data = json.loads(out.read_text())
        assert data["questions"] == 6 and set(data["conditions"]) == {
            "none",
            "related",
            "conflicting",
            "unrelated",
            "few_shot",
        }
        assert all(np.isfinite(v["answer_loss"]) for v in data["conditions"].values())
