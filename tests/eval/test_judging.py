"""Verdict parsing and the judge summary, on recorded replies."""

from __future__ import annotations

import pytest

from axolotl_packing_bench.eval import judging
from axolotl_packing_bench.eval.judging import Parsed, combine_orders, parse_score, parse_verdict, summarize


class TestParseScore:
    @pytest.mark.parametrize(
        ("reply", "score"),
        [
            ("The answer is correct and concise.\nRating: [[7]]", 7.0),
            ("Rating: [[10]]", 10.0),
            ("[[1]]", 1.0),
            ("Mostly right. Rating: [[ 8.5 ]]", 8.5),
            ("Rating: [[6/10]]", 6.0),
            ("I rate it [[4]]. Final: Rating: [[4]]", 4.0),  # the same rating twice is fine
            ("No brackets, but Rating: 5", 5.0),  # MT-Bench-style fallback
            ("Rating: [3]", 3.0),
        ],
    )
    def test_well_formed(self, reply: str, score: float):
        assert parse_score(reply) == Parsed(score)

    @pytest.mark.parametrize(
        ("reply", "problem"),
        [
            ("", "empty reply"),
            (None, "empty reply"),
            ("   \n", "empty reply"),
            ("theisk Mytoubrym Rastol [[", "no [[rating]] in the reply"),
            ("Great answer, 9 out of 10!", "no [[rating]] in the reply"),
            ("Rating: [[11]]", "rating 11 outside 1-10"),
            ("Rating: [[0]]", "rating 0 outside 1-10"),
            ("Rating: [[-3]]", "rating -3 outside 1-10"),
            ("First [[3]], on reflection [[8]]", "several different ratings in the reply"),
            ("[[A]]", "no [[rating]] in the reply"),
        ],
    )
    def test_malformed_is_invalid_not_a_score(self, reply, problem: str):
        parsed = parse_score(reply)
        assert parsed.verdict is None and not parsed.valid
        assert parsed.problem == problem


class TestParseVerdict:
    @pytest.mark.parametrize(
        ("reply", "verdict"),
        [
            ("Assistant A is more accurate. [[A]]", "A"),
            ("[[B]]", "B"),
            ("Both are equally wrong. [[C]]", "C"),
            ("It is a draw: [[tie]]", "C"),
            ("[[ b ]]", "B"),
            ("A is better [[A]] ... final verdict: [[A]]", "A"),
        ],
    )
    def test_well_formed(self, reply: str, verdict: str):
        assert parse_verdict(reply) == Parsed(verdict)

    @pytest.mark.parametrize(
        ("reply", "problem"),
        [
            ("", "empty reply"),
            ("A is better.", "no [[A]], [[B]] or [[C]] verdict in the reply"),
            ("[A]", "no [[A]], [[B]] or [[C]] verdict in the reply"),
            ("[[D]]", "no [[A]], [[B]] or [[C]] verdict in the reply"),
            ("Rating: [[7]]", "no [[A]], [[B]] or [[C]] verdict in the reply"),
            ("[[A]] no wait [[B]]", "several different verdicts in the reply"),
        ],
    )
    def test_malformed(self, reply: str, problem: str):
        assert parse_verdict(reply) == Parsed(None, problem)


class TestCombineOrders:
    """First order: A = model, B = baseline; second: A = baseline, B = model."""

    @pytest.mark.parametrize(
        ("first", "second", "outcome"),
        [
            ("A", "B", "win"),  # model preferred in both positions
            ("B", "A", "loss"),
            ("C", "C", "tie"),
            ("A", "A", "tie"),  # the judge always picks position A: position bias, not a win
            ("B", "B", "tie"),
            ("A", "C", "tie"),
            ("C", "A", "tie"),
        ],
    )
    def test_win_only_when_consistent(self, first: str, second: str, outcome: str):
        assert combine_orders(Parsed(first), Parsed(second)) == outcome

    def test_an_invalid_half_makes_the_comparison_invalid(self):
        assert combine_orders(Parsed("A"), Parsed(None, "garbage")) is None
        assert combine_orders(Parsed(None, "garbage"), Parsed("B")) is None


class TestSummarize:
    def test_absolute(self):
        judge = summarize(
            "absolute",
            "gpt-4o-mini",
            [7.0, None, 9.0, None],
            prompt_tokens=2000,
            completion_tokens=500,
            price_in=0.15,
            price_out=0.6,
        )
        assert judge == {
            "mode": "absolute",
            "judge_model": "gpt-4o-mini",
            "mean_score": 8.0,
            "win": 0,
            "tie": 0,
            "loss": 0,
            "judged": 2,
            "invalid": 2,
            "prompt_tokens": 2000,
            "completion_tokens": 500,
            "cost_usd": pytest.approx(0.6),
        }

    def test_pairwise_has_no_mean_and_no_cost_without_prices(self):
        judge = summarize("pairwise", "j", ["win", "tie", "loss", "win", None])
        assert (judge["win"], judge["tie"], judge["loss"], judge["judged"], judge["invalid"]) == (2, 1, 1, 4, 1)
        assert judge["mean_score"] is None and judge["cost_usd"] is None

    def test_all_invalid(self):
        judge = summarize("absolute", "j", [None, None])
        assert judge["mean_score"] is None and judge["judged"] == 0 and judge["invalid"] == 2


def test_prompts_carry_question_answers_reference_and_format():
    messages = judging.absolute_messages("What is the river of Belmora?", "Selune.", "The river of Belmora is Selune.")
    text = messages[-1]["content"]
    assert "What is the river of Belmora?" in text and "Selune." in text and "[Reference answer]" in text
    assert "Rating: [[N]]" in text
    pair = judging.pairwise_messages("Q?", "first", "second")[-1]["content"]
    assert pair.index("first") < pair.index("second") and "[[C]]" in pair and "[Reference answer]" not in pair
