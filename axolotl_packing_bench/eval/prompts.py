"""Prompt sets for the GPT judge: the offline set, or a user JSONL.

- ``offline``: questions about held-out facts of the synthetic topics (the
  same facts as the offline lm-eval tasks), each with its reference answer,
  generated locally; ``offline:N`` takes the first N (default 16), spread
  over topics.
- a JSONL file: one object per line with a ``prompt`` string (WildBench,
  Arena-Hard... exported that way), and optionally ``id`` and ``reference``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from axolotl_packing_bench.core.jsonl import jsonl_file_rows
from axolotl_packing_bench.eval.errors import EvalError

OFFLINE = "offline"
DEFAULT_OFFLINE_PROMPTS = 16


@dataclass(frozen=True)
class Prompt:
    """One prompt to answer and judge.

    Attributes:
        id: Stable identifier within the set.
        prompt: The user message.
        reference: A reference answer shown to the judge, when known.
    """

    id: str
    prompt: str
    reference: str | None = None


@dataclass(frozen=True)
class PromptSet:
    """A named list of prompts; `digest` changes with any prompt."""

    name: str
    prompts: tuple[Prompt, ...]

    @property
    def digest(self) -> str:
        text = json.dumps([[p.id, p.prompt, p.reference] for p in self.prompts], ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def offline_prompts(count: int = DEFAULT_OFFLINE_PROMPTS, *, seed: int = 0) -> PromptSet:
    """The first ``count`` held-out fact questions, one topic after another."""
    from axolotl_packing_bench.assets import heldout_rows

    rows = heldout_rows(seed)
    by_topic: dict[str, list[dict]] = {}
    for row in rows:
        by_topic.setdefault(row["topic"], []).append(row)
    ordered = [row for group in zip(*by_topic.values()) for row in group]  # round-robin over topics
    chosen = ordered[: max(count, 0)]
    return PromptSet(
        f"{OFFLINE}:{len(chosen)}",
        tuple(Prompt(row["id"], row["question"], row["answer"]) for row in chosen),
    )


def load_prompts(source: str | Path, *, seed: int = 0) -> PromptSet:
    """``offline``, ``offline:N`` or a JSONL path; `EvalError` on bad input."""
    text = str(source)
    if text == OFFLINE or text.startswith(f"{OFFLINE}:"):
        count = text.partition(":")[2]
        if count and not count.isdigit():
            raise EvalError(f"--prompts {text!r}: write offline or offline:N with N a number of prompts")
        if count and int(count) == 0:
            raise EvalError(f"--prompts {text} selects no prompts; write offline:N with N of 1 or more")
        return offline_prompts(int(count) if count else DEFAULT_OFFLINE_PROMPTS, seed=seed)
    path = Path(text).expanduser()
    if not path.is_file():
        raise EvalError(f"prompt file {path} does not exist; pass a JSONL with a `prompt` field per line, or `offline`")
    prompts: list[Prompt] = []
    for number, row in jsonl_file_rows(path, error=EvalError):
        if not isinstance(row, dict) or not isinstance(row.get("prompt"), str) or not row["prompt"].strip():
            raise EvalError(f"{path} line {number} has no `prompt` string; give every line a non-empty `prompt`")
        reference = row.get("reference")
        prompts.append(
            Prompt(str(row.get("id", number)), row["prompt"], reference if isinstance(reference, str) else None)
        )
    if not prompts:
        raise EvalError(f"{path} holds no prompts; write one JSON object with a `prompt` field per line")
    return PromptSet(path.stem, tuple(prompts))
