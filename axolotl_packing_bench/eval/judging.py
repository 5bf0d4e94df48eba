"""Judge prompts, verdict parsing and the `judge` summary: pure functions.

Absolute mode: the judge rates one answer from 1 to 10 against a rubric and
ends with ``Rating: [[N]]``. Pairwise mode: it compares two answers and ends
with ``[[A]]``, ``[[B]]`` or ``[[C]]`` (a tie), as in MT-Bench. Every
comparison is asked in both orders (model first, then baseline first); the
model wins or loses only when both orders agree, anything else is a tie.

A reply without a well-formed verdict (no ``[[...]]``, a score outside
1-10, two different verdicts) is *invalid*: it is counted, never scored,
and never stops the run. Judged and invalid count prompts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

ABSOLUTE = "absolute"
PAIRWISE = "pairwise"
MODES = (ABSOLUTE, PAIRWISE)
RUBRIC_VERSION = {ABSOLUTE: "absolute-v1", PAIRWISE: "pairwise-v1"}
SCORE_RANGE = (1.0, 10.0)

SYSTEM = "You are a strict, impartial judge of the answers of AI assistants."

ABSOLUTE_TEMPLATE = """Rate the assistant's answer to the user's question on a scale of 1 to 10.

Rubric:
- 10: correct, complete, clear and concise; nothing to improve.
- 7-9: correct and helpful, with minor omissions or wording problems.
- 4-6: partly correct or partly helpful; notable errors or omissions.
- 2-3: mostly wrong, off-topic or hard to understand.
- 1: wrong, empty, nonsensical or harmful.
{reference_block}
[Question]
{question}

[Assistant's answer]
{answer}

Explain your rating in one or two sentences, then end with the rating in exactly this format: \
"Rating: [[N]]", where N is a whole number from 1 to 10."""

PAIRWISE_TEMPLATE = """Compare two AI assistants' answers to the user's question and decide which is better.
Judge correctness first, then helpfulness, clarity and concision. Do not let the order of the
answers, their length or the assistants' names influence you.
{reference_block}
[Question]
{question}

[Answer of assistant A]
{answer_a}

[Answer of assistant B]
{answer_b}

Explain your decision in one or two sentences, then end with your verdict in exactly this format:
"[[A]]" if A is better, "[[B]]" if B is better, "[[C]]" for a tie."""

_REFERENCE = "\n[Reference answer]\n{reference}\n"
_SCORE = re.compile(r"\[\[\s*([+-]?\d+(?:\.\d+)?)\s*(?:/\s*10\s*)?\]\]")
_SCORE_FALLBACK = re.compile(r"rating\s*[:=]?\s*\[?\s*([+-]?\d+(?:\.\d+)?)\s*(?:/\s*10\s*)?\]?", re.IGNORECASE)
_VERDICT = re.compile(r"\[\[\s*(A|B|C|tie)\s*\]\]", re.IGNORECASE)


@dataclass(frozen=True)
class Parsed:
    """A parsed judge reply: a verdict (a score, or "A"/"B"/"C") or why it is invalid."""

    verdict: float | str | None
    problem: str | None = None

    @property
    def valid(self) -> bool:
        return self.verdict is not None


def absolute_messages(question: str, answer: str, reference: str | None = None) -> list[dict[str, str]]:
    """Chat messages asking the judge to rate ``answer``."""
    block = _REFERENCE.format(reference=reference) if reference else ""
    user = ABSOLUTE_TEMPLATE.format(reference_block=block, question=question, answer=answer or "(empty answer)")
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def pairwise_messages(
    question: str, answer_a: str, answer_b: str, reference: str | None = None
) -> list[dict[str, str]]:
    """Chat messages asking the judge to compare ``answer_a`` (A) and ``answer_b`` (B)."""
    block = _REFERENCE.format(reference=reference) if reference else ""
    user = PAIRWISE_TEMPLATE.format(
        reference_block=block,
        question=question,
        answer_a=answer_a or "(empty answer)",
        answer_b=answer_b or "(empty answer)",
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def parse_score(reply: str | None, *, low: float = SCORE_RANGE[0], high: float = SCORE_RANGE[1]) -> Parsed:
    """The rating of an absolute reply: ``[[7]]`` (or ``Rating: 7`` as a fallback)."""
    if not reply or not reply.strip():
        return Parsed(None, "empty reply")
    found = _SCORE.findall(reply) or _SCORE_FALLBACK.findall(reply)
    if not found:
        return Parsed(None, "no [[rating]] in the reply")
    values = {float(value) for value in found}
    if len(values) > 1:
        return Parsed(None, "several different ratings in the reply")
    value = values.pop()
    if not low <= value <= high or math.isnan(value):
        return Parsed(None, f"rating {value:g} outside {low:g}-{high:g}")
    return Parsed(value)


def parse_verdict(reply: str | None) -> Parsed:
    """The verdict of a pairwise reply: "A", "B" or "C" (tie; ``[[tie]]`` too)."""
    if not reply or not reply.strip():
        return Parsed(None, "empty reply")
    found = {("C" if v.lower() == "tie" else v.upper()) for v in _VERDICT.findall(reply)}
    if not found:
        return Parsed(None, "no [[A]], [[B]] or [[C]] verdict in the reply")
    if len(found) > 1:
        return Parsed(None, "several different verdicts in the reply")
    return Parsed(found.pop())


def combine_orders(model_first: Parsed, model_second: Parsed) -> str | None:
    """ "win", "tie" or "loss" of the model from both orders; None when either is invalid.

    ``model_first`` judged (A = model, B = baseline); ``model_second`` judged
    (A = baseline, B = model). A win or a loss must be consistent across
    orders; any disagreement is a tie.
    """
    if not (model_first.valid and model_second.valid):
        return None
    first = {"A": "win", "B": "loss", "C": "tie"}[str(model_first.verdict)]
    second = {"A": "loss", "B": "win", "C": "tie"}[str(model_second.verdict)]
    return first if first == second else "tie"


def cost_usd(
    prompt_tokens: int, completion_tokens: int, price_in: float | None, price_out: float | None
) -> float | None:
    """Dollars at the given prices per 1k tokens; None when no price is given."""
    if price_in is None and price_out is None:
        return None
    return round(prompt_tokens / 1000 * (price_in or 0.0) + completion_tokens / 1000 * (price_out or 0.0), 6)


def summarize(
    mode: str,
    judge_model: str,
    verdicts: Sequence[float | str | None],
    *,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    price_in: float | None = None,
    price_out: float | None = None,
) -> dict[str, Any]:
    """The `judge` section of a result.

    Args:
        mode: "absolute" or "pairwise".
        judge_model: The judge's model name.
        verdicts: Per prompt: a rating (absolute), "win"/"tie"/"loss"
            (pairwise), or None for an invalid judgment.
        prompt_tokens: Judge input tokens of these judgments (cached ones too).
        completion_tokens: Judge output tokens of these judgments.
        price_in: Dollars per 1k input tokens, if known.
        price_out: Dollars per 1k output tokens, if known.
    """
    valid = [v for v in verdicts if v is not None]
    ratings = [float(v) for v in valid if not isinstance(v, str)]
    return {
        "mode": mode,
        "judge_model": judge_model,
        "mean_score": round(sum(ratings) / len(ratings), 4) if mode == ABSOLUTE and ratings else None,
        "win": sum(v == "win" for v in valid),
        "tie": sum(v == "tie" for v in valid),
        "loss": sum(v == "loss" for v in valid),
        "judged": len(valid),
        "invalid": len(verdicts) - len(valid),
        "prompt_tokens": int(prompt_tokens),
        "completion_tokens": int(completion_tokens),
        "cost_usd": cost_usd(prompt_tokens, completion_tokens, price_in, price_out),
    }
