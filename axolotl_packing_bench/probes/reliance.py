"""The context-reliance probe: does a trained model use, or get misled by, context?

For held-out question/answer pairs, the model's answer loss (mean token
negative log-likelihood of the answer given the prompt, through the chat
template) and exact match (greedy generation, normalized) are measured under
five conditions:

| condition     | the user turn holds                                    |
| ------------- | ------------------------------------------------------ |
| `none`        | the question alone (0-shot)                            |
| `related`     | a passage of the same topic stating the answer, then the question |
| `conflicting` | the same passage stating a conflicting answer          |
| `unrelated`   | a passage of another topic                             |
| `few_shot`    | k earlier user/assistant turns answering other questions |

and compared question by question, with paired bootstrap confidence intervals:

| effect        | answer-loss figure (nats)        | exact-match figure     |
| ------------- | -------------------------------- | ---------------------- |
| `reliance`    | loss(none) - loss(related)       | EM(related) - EM(none) |
| `distraction` | loss(conflicting) - loss(none)   | EM(none) - EM(conflicting) |
| `unrelated`   | loss(unrelated) - loss(none)     | EM(none) - EM(unrelated) |
| `few_shot`    | loss(none) - loss(few_shot)      | EM(few_shot) - EM(none) |
| `fact_use`    | loss(conflicting) - loss(related) | EM(related) - EM(conflicting) |

Positive means what the name says: context helps, a conflict misleads, an
unrelated passage hurts, examples help. A model *disregards* context when the
reliance interval includes 0. `fact_use` compares the two passages that differ
in one word, the stated value: it is what is left of reliance and distraction
once any effect of merely having a passage in front of the question cancels
out, so a model that reads the fact shows it above 0.

The data is a JSONL with `question`, `answer`, `related_context`,
`conflicting_context` and `unrelated_context` per row (optionally `value` and
`conflicting_value`, to count how often a generation names the conflicting
value): the embedded held-out split (`packbench://heldout?seed=0`) is one.
The model is anything with `answer_loss(messages, answer)` and
`generate(messages, max_new_tokens)` (`ChatModel`); `HFChatModel` wraps a
transformers causal LM and its tokenizer's chat template.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from axolotl_packing_bench.constants import RELIANCE_BOOTSTRAP, RELIANCE_K, RELIANCE_SEED
from axolotl_packing_bench.core.jsonl import jsonl_file_rows

CONDITIONS: tuple[str, ...] = ("none", "related", "conflicting", "unrelated", "few_shot")
CONTEXT_FIELDS = {"related": "related_context", "conflicting": "conflicting_context", "unrelated": "unrelated_context"}
REQUIRED_FIELDS: tuple[str, ...] = ("question", "answer", *CONTEXT_FIELDS.values())

# effect -> (condition a, condition b): loss figure = loss(a) - loss(b); EM figure = EM(b) - EM(a)
EFFECTS: dict[str, tuple[str, str]] = {
    "reliance": ("none", "related"),
    "distraction": ("conflicting", "none"),
    "unrelated": ("unrelated", "none"),
    "few_shot": ("none", "few_shot"),
    "fact_use": ("conflicting", "related"),
}
PROBE_VERSION = 2


class ProbeDataError(ValueError):
    """The probe's data file cannot be used (missing, empty, or rows lack fields)."""


@dataclass(frozen=True)
class Question:
    """One held-out question with its three contexts."""

    question: str
    answer: str
    related_context: str
    conflicting_context: str
    unrelated_context: str
    value: str | None = None
    conflicting_value: str | None = None
    id: str | None = None


class ChatModel(Protocol):
    """What the probe needs from a model."""

    def answer_loss(self, messages: Sequence[Mapping[str, str]], answer: str) -> float:
        """Mean negative log-likelihood (nats/token) of `answer` as the assistant's reply."""

    def generate(self, messages: Sequence[Mapping[str, str]], max_new_tokens: int) -> str:
        """The greedy assistant reply."""


# ---------------------------------------------------------------- data


def load_questions(path: str | Path, *, max_questions: int | None = None) -> list[Question]:
    """Questions from a JSONL file (see the module docstring for the fields).

    Raises:
        ProbeDataError: one sentence naming the file, the row and the fix.
    """
    path = Path(path)
    if not path.is_file():
        raise ProbeDataError(
            f"probe data {str(path)!r} does not exist; pass a JSONL of held-out questions, "
            "e.g. the one `packbench assets` builds (packbench://heldout?seed=0)."
        )
    questions = []
    for number, row in jsonl_file_rows(path, error=ProbeDataError):
        missing = [name for name in REQUIRED_FIELDS if not isinstance(row.get(name), str) or not row[name]]
        if missing:
            raise ProbeDataError(
                f"{path}:{number} lacks {', '.join(missing)}; every row needs {', '.join(REQUIRED_FIELDS)}."
            )
        questions.append(
            Question(
                question=row["question"],
                answer=row["answer"],
                related_context=row["related_context"],
                conflicting_context=row["conflicting_context"],
                unrelated_context=row["unrelated_context"],
                value=row.get("value"),
                conflicting_value=row.get("conflicting_value"),
                id=row.get("id"),
            )
        )
    if not questions:
        raise ProbeDataError(f"probe data {str(path)!r} has no rows; pass a JSONL of held-out questions.")
    return questions[:max_questions] if max_questions else questions


def with_context(context: str, question: str) -> str:
    """The user turn of a context condition: the passage, a blank line, the question."""
    return f"{context}\n\n{question}"


def condition_messages(
    questions: Sequence[Question], index: int, condition: str, shots: Sequence[int] = ()
) -> list[dict[str, str]]:
    """The chat messages (without the answer) of one question under one condition."""
    q = questions[index]
    if condition == "none":
        return [{"role": "user", "content": q.question}]
    if condition == "few_shot":
        messages: list[dict[str, str]] = []
        for j in shots:
            messages += [
                {"role": "user", "content": questions[j].question},
                {"role": "assistant", "content": questions[j].answer},
            ]
        return [*messages, {"role": "user", "content": q.question}]
    if condition in CONTEXT_FIELDS:
        return [{"role": "user", "content": with_context(getattr(q, CONTEXT_FIELDS[condition]), q.question)}]
    raise ValueError(f"unknown condition {condition!r}; one of {', '.join(CONDITIONS)}")


def few_shot_indices(n: int, k: int, *, seed: int) -> list[list[int]]:
    """For each question, `k` other questions as its examples (seeded, without replacement)."""
    rng = np.random.default_rng(seed)
    k = min(k, max(n - 1, 0))
    chosen = []
    for i in range(n):
        others = np.delete(np.arange(n), i)
        chosen.append(sorted(rng.choice(others, size=k, replace=False).tolist()) if k else [])
    return chosen


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """Lowercase, no punctuation, no articles, single spaces (SQuAD's normalization)."""
    text = text.lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _mentions(text: str, value: str | None) -> bool:
    return bool(value) and normalize_answer(value) in normalize_answer(text).split()


# ---------------------------------------------------------------- measuring


def measure(
    model: ChatModel,
    questions: Sequence[Question],
    *,
    k: int = 3,
    seed: int = 0,
    generate: bool = True,
    max_new_tokens: int | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """Per-question figures under every condition.

    Returns:
        condition -> {"answer_loss": float array, and with `generate`:
        "exact_match", "names_value", "names_conflicting_value" (0/1 arrays)}.
        `few_shot` is left out when `k` is 0 or there is one question.
    """
    shots = few_shot_indices(len(questions), k, seed=seed)
    conditions = [c for c in CONDITIONS if c != "few_shot" or (k > 0 and len(questions) > 1)]
    figures: dict[str, dict[str, np.ndarray]] = {}
    for condition in conditions:
        exact, value, conflict = [], [], []
        prompts = [condition_messages(questions, i, condition, shots[i]) for i in range(len(questions))]
        answers = [q.answer for q in questions]
        if hasattr(model, "answer_losses"):  # batched scoring
            losses = [float(v) for v in model.answer_losses(prompts, answers)]
        else:
            losses = [float(model.answer_loss(m, a)) for m, a in zip(prompts, answers, strict=True)]
        if generate:
            budgets = [
                max_new_tokens or (model.reply_budget(a) if hasattr(model, "reply_budget") else 32) for a in answers
            ]
            if hasattr(model, "generate_many"):  # batched decoding
                replies = model.generate_many(prompts, budgets)
            else:
                replies = [model.generate(m, b) for m, b in zip(prompts, budgets, strict=True)]
        for i, q in enumerate(questions):
            if generate:
                reply = replies[i]
                exact.append(normalize_answer(reply) == normalize_answer(q.answer))
                value.append(_mentions(reply, q.value))
                conflict.append(_mentions(reply, q.conflicting_value))
        figures[condition] = {"answer_loss": np.asarray(losses, dtype=np.float64)}
        if generate:
            figures[condition].update(
                exact_match=np.asarray(exact, dtype=np.float64),
                names_value=np.asarray(value, dtype=np.float64),
                names_conflicting_value=np.asarray(conflict, dtype=np.float64),
            )
    return figures


def paired_bootstrap(
    differences: Mapping[str, np.ndarray], *, resamples: int = 1000, seed: int = 0, confidence: float = 0.95
) -> dict[str, dict[str, Any]]:
    """Mean and percentile interval of each per-question difference, resampling questions.

    Every difference is resampled with the SAME question indices, so effects
    stay paired with each other as well as within a question.

    Returns:
        name -> {"mean", "ci": [low, high], "ci_includes_zero"}.
    """
    arrays = {name: np.asarray(values, dtype=np.float64) for name, values in differences.items()}
    sizes = {array.shape[0] for array in arrays.values()}
    if len(sizes) > 1:
        raise ValueError("paired_bootstrap needs the same questions in every difference")
    n = sizes.pop() if sizes else 0
    out: dict[str, dict[str, Any]] = {}
    if n == 0:
        return {name: {"mean": None, "ci": [None, None], "ci_includes_zero": None} for name in arrays}
    rng = np.random.default_rng(seed)
    tail = (1.0 - confidence) / 2 * 100
    index = rng.integers(0, n, size=(max(int(resamples), 1), n)) if resamples else None
    for name, array in arrays.items():
        mean = float(array.mean())
        if index is None:
            low = high = mean
        else:
            means = array[index].mean(axis=1)
            low, high = (float(v) for v in np.percentile(means, [tail, 100 - tail]))
        low, high = min(low, mean), max(high, mean)  # float rounding: keep the mean inside
        out[name] = {"mean": mean, "ci": [low, high], "ci_includes_zero": bool(low <= 0.0 <= high)}
    return out


def effect_differences(figures: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per-question differences behind each effect, keyed `<effect>.<metric>`."""
    differences = {}
    for effect, (a, b) in EFFECTS.items():
        if a not in figures or b not in figures:
            continue
        differences[f"{effect}.answer_loss"] = figures[a]["answer_loss"] - figures[b]["answer_loss"]
        if "exact_match" in figures[a]:
            differences[f"{effect}.exact_match"] = figures[b]["exact_match"] - figures[a]["exact_match"]
    return differences


def summarize(
    figures: Mapping[str, Mapping[str, np.ndarray]], *, resamples: int = 1000, seed: int = 0, confidence: float = 0.95
) -> dict[str, Any]:
    """Condition means, effects with paired-bootstrap intervals, and the disregard verdict."""
    conditions = {
        condition: {metric: round(float(values.mean()), 6) for metric, values in metrics.items()}
        for condition, metrics in figures.items()
    }
    intervals = paired_bootstrap(effect_differences(figures), resamples=resamples, seed=seed, confidence=confidence)
    effects: dict[str, dict[str, Any]] = {}
    for key, interval in intervals.items():
        effect, metric = key.split(".", 1)
        effects.setdefault(effect, {})[metric] = {
            "mean": _round(interval["mean"]),
            "ci": [_round(v) for v in interval["ci"]],
            "ci_includes_zero": interval["ci_includes_zero"],
        }
    reliance = effects.get("reliance", {}).get("answer_loss")
    if reliance is None:
        use = None
    elif reliance["ci_includes_zero"]:
        use = "disregards"
    else:
        use = "uses" if reliance["mean"] > 0 else "hurt_by"
    return {
        "conditions": conditions,
        "effects": effects,
        "disregards_context": None if reliance is None else reliance["ci_includes_zero"],
        "context_use": use,
        "conflict_followed": conditions.get("conflicting", {}).get("names_conflicting_value"),
    }


def _round(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, 6)


def probe_model(
    model: ChatModel,
    questions: Sequence[Question],
    *,
    k: int = 3,
    bootstrap: int = 1000,
    seed: int = 0,
    generate: bool = True,
    max_new_tokens: int | None = None,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Run the probe on any `ChatModel`; see `run_reliance_probe` for the result's layout."""
    figures = measure(model, questions, k=k, seed=seed, generate=generate, max_new_tokens=max_new_tokens)
    return {
        "probe": "reliance",
        "version": PROBE_VERSION,
        "questions": len(questions),
        "k": k,
        "bootstrap": bootstrap,
        "seed": seed,
        "confidence": confidence,
        "generate": generate,
        **summarize(figures, resamples=bootstrap, seed=seed, confidence=confidence),
    }


# ---------------------------------------------------------------- a transformers model


class HFChatModel:
    """A transformers causal LM and its tokenizer, scored through the chat template.

    The prompt is the template rendered with the generation prompt; the
    answer's tokens are what the template adds after it for the assistant
    turn (the answer and its end-of-turn token), tokenized apart from the
    prompt so that scoring and generation see the same prompt ids.
    """

    def __init__(self, model: Any, tokenizer: Any, *, device: str = "cpu") -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        stops = {tokenizer.eos_token_id}
        for token in ("<|eot_id|>", "<|im_end|>", "<|end|>"):
            token_id = tokenizer.convert_tokens_to_ids(token) if token in tokenizer.get_vocab() else None
            if token_id is not None:
                stops.add(token_id)
        generation = getattr(model, "generation_config", None)
        configured = getattr(generation, "eos_token_id", None)
        stops.update(configured if isinstance(configured, list) else [configured] if configured is not None else [])
        self.stop_ids = sorted(i for i in stops if i is not None)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.stop_ids[0]

    @classmethod
    def from_pretrained(cls, model_dir: str | Path, *, device: str = "cpu") -> HFChatModel:
        """Load a local model directory (never downloads)."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(model_dir)
        if not (path / "config.json").exists():
            raise ProbeDataError(
                f"model {str(model_dir)!r} is not a local model directory (no config.json); "
                "pass the output_dir of a finished training run."
            )
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        if tokenizer.chat_template is None:
            raise ProbeDataError(
                f"the tokenizer in {str(model_dir)!r} has no chat template; the probe asks its "
                "questions through one, so save the tokenizer with its chat_template."
            )
        model = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True, dtype=torch.float32)
        return cls(model.to(device).eval(), tokenizer, device=device)

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False).input_ids)

    def encode(self, messages: Sequence[Mapping[str, str]], answer: str) -> tuple[list[int], list[int]]:
        """`(prompt ids, answer ids)` for `messages` followed by the assistant's `answer`."""
        prompt = self.tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        full = self.tokenizer.apply_chat_template([*messages, {"role": "assistant", "content": answer}], tokenize=False)
        rest = full[len(prompt) :] if full.startswith(prompt) else answer
        return self._ids(prompt), self._ids(rest)

    def answer_loss(self, messages: Sequence[Mapping[str, str]], answer: str) -> float:
        import torch

        prompt, target = self.encode(messages, answer)
        ids = torch.tensor([prompt + target], device=self.device)
        with torch.no_grad():
            logits = self.model(input_ids=ids, use_cache=False).logits[0].float()
        # the token at position t is predicted by the logits at t - 1
        predicted = logits[len(prompt) - 1 : len(prompt) + len(target) - 1]
        nll = torch.nn.functional.cross_entropy(predicted, ids[0, len(prompt) :], reduction="mean")
        return float(nll)

    def answer_losses(
        self, prompts: Sequence[Sequence[Mapping[str, str]]], answers: Sequence[str], *, batch_size: int = 16
    ) -> list[float]:
        """`answer_loss` of many prompts, scored in right-padded batches (same figures, fewer forwards)."""
        import torch

        encoded = [self.encode(m, a) for m, a in zip(prompts, answers, strict=True)]
        losses: list[float] = []
        for start in range(0, len(encoded), batch_size):
            chunk = encoded[start : start + batch_size]
            width = max(len(p) + len(t) for p, t in chunk)
            ids = torch.full((len(chunk), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, (p, t) in enumerate(chunk):
                ids[row, : len(p) + len(t)] = torch.tensor(p + t)
                mask[row, : len(p) + len(t)] = 1
            with torch.no_grad():
                logits = self.model(
                    input_ids=ids.to(self.device), attention_mask=mask.to(self.device), use_cache=False
                ).logits.float()
            for row, (p, t) in enumerate(chunk):
                predicted = logits[row, len(p) - 1 : len(p) + len(t) - 1]
                target = ids[row, len(p) : len(p) + len(t)].to(predicted.device)
                losses.append(float(torch.nn.functional.cross_entropy(predicted, target)))
        return losses

    def reply_budget(self, answer: str) -> int:
        """Tokens enough for an exact match: the answer, its end of turn and a little slack."""
        return len(self._ids(answer)) + 4

    def generate(self, messages: Sequence[Mapping[str, str]], max_new_tokens: int) -> str:
        """Greedy decoding with a KV cache, stopping at an end-of-turn or end-of-text token.

        A plain loop rather than `model.generate`: for tiny models its
        per-token overhead dominates, and greedy needs none of its machinery.
        """
        import torch

        prompt = self.tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        ids = torch.tensor([self._ids(prompt)], device=self.device)
        stops = set(self.stop_ids)
        reply: list[int] = []
        with torch.no_grad():
            out = self.model(input_ids=ids, use_cache=True)
            for _ in range(max_new_tokens):
                token = int(out.logits[0, -1].argmax())
                if token in stops:
                    break
                reply.append(token)
                step = torch.tensor([[token]], device=self.device)
                out = self.model(input_ids=step, past_key_values=out.past_key_values, use_cache=True)
        return self.tokenizer.decode(reply, skip_special_tokens=True).strip()

    def generate_many(
        self, prompts: Sequence[Sequence[Mapping[str, str]]], budgets: Sequence[int], *, batch_size: int = 16
    ) -> list[str]:
        """`generate` for many prompts, decoded together in left-padded batches."""
        import torch

        encoded = [
            self._ids(self.tokenizer.apply_chat_template(list(m), tokenize=False, add_generation_prompt=True))
            for m in prompts
        ]
        stops = torch.tensor(self.stop_ids)
        replies: list[str] = []
        for start in range(0, len(encoded), batch_size):
            chunk = encoded[start : start + batch_size]
            budget = max(budgets[start : start + batch_size])
            width = max(len(ids) for ids in chunk)
            ids = torch.full((len(chunk), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, prompt in enumerate(chunk):
                ids[row, width - len(prompt) :] = torch.tensor(prompt)
                mask[row, width - len(prompt) :] = 1
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            done = torch.zeros(len(chunk), dtype=torch.bool)
            generated = torch.full((len(chunk), budget), self.pad_id, dtype=torch.long)
            with torch.no_grad():
                out = self.model(
                    input_ids=ids.to(self.device),
                    attention_mask=mask.to(self.device),
                    position_ids=positions.to(self.device),
                    use_cache=True,
                )
                for step in range(budget):
                    token = out.logits[:, -1].argmax(-1).cpu()
                    done |= torch.isin(token, stops)
                    if bool(done.all()):
                        break
                    generated[:, step] = torch.where(done, torch.full_like(token, self.pad_id), token)
                    mask = torch.cat([mask, torch.ones((len(chunk), 1), dtype=torch.long)], dim=1)
                    positions = positions[:, -1:] + 1
                    out = self.model(
                        input_ids=token[:, None].to(self.device),
                        attention_mask=mask.to(self.device),
                        position_ids=positions.to(self.device),
                        past_key_values=out.past_key_values,
                        use_cache=True,
                    )
            for row in range(len(chunk)):
                tokens = [t for t in generated[row, : budgets[start + row]].tolist() if t != self.pad_id]
                replies.append(self.tokenizer.decode(tokens, skip_special_tokens=True).strip())
        return replies


def run_reliance_probe(
    model_dir: str | Path,
    data_path: str | Path,
    *,
    k: int = RELIANCE_K,
    bootstrap: int = RELIANCE_BOOTSTRAP,
    seed: int = RELIANCE_SEED,
    max_questions: int | None = None,
    generate: bool = True,
    max_new_tokens: int | None = None,
    confidence: float = 0.95,
    device: str = "cpu",
    threads: int | None = None,
) -> dict[str, Any]:
    """Probe a trained model's context reliance on held-out questions.

    Args:
        model_dir: a local model directory with its tokenizer (a run's output_dir).
        data_path: JSONL of held-out questions (see the module docstring);
            a `packbench://heldout?seed=N` URI is resolved to the embedded split.
        k: examples in the few-shot condition (0 leaves it out).
        bootstrap: paired-bootstrap resamples over questions.
        seed: chooses the few-shot examples and the resamples.
        max_questions: probe only the first N questions.
        generate: also generate greedily for exact match (slower).
        max_new_tokens: longest generated reply; None: the answer's length
            plus a few tokens (enough for an exact match).
        confidence: level of the intervals.
        device: torch device.
        threads: torch CPU threads while probing (None: torch's default). One
            thread is fastest for tiny models on a busy machine.

    Returns:
        `{"probe": "reliance", "model", "data", "questions", "k", "bootstrap", "seed",
        "confidence", "generate", "conditions": {condition: {"answer_loss", "exact_match",
        ...}}, "effects": {effect: {"answer_loss": {"mean", "ci", "ci_includes_zero"},
        "exact_match": {...}}}, "disregards_context", "context_use" ("uses" | "disregards" |
        "hurt_by"), "conflict_followed", "seconds"}`.
    """
    import time

    import torch

    from axolotl_packing_bench.assets import resolve_asset_uri

    started = time.perf_counter()
    data = Path(resolve_asset_uri(str(data_path)))
    questions = load_questions(data, max_questions=max_questions)
    model = HFChatModel.from_pretrained(model_dir, device=device)
    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        result = probe_model(
            model,
            questions,
            k=k,
            bootstrap=bootstrap,
            seed=seed,
            generate=generate,
            max_new_tokens=max_new_tokens,
            confidence=confidence,
        )
    finally:
        torch.set_num_threads(previous_threads)
    return {
        "model": str(model_dir),
        "data": str(data_path),
        **result,
        "seconds": round(time.perf_counter() - started, 2),
    }


# ---------------------------------------------------------------- reporting

EFFECT_LABELS = {
    "reliance": "reliance (related context helps)",
    "distraction": "distraction (conflicting context misleads)",
    "unrelated": "unrelated context effect (harm)",
    "few_shot": "few-shot gain",
    "fact_use": "fact use (stated value preferred)",
}


def _interval(figure: Mapping[str, Any] | None, digits: int = 3) -> str:
    if not figure or figure.get("mean") is None:
        return "—"
    low, high = figure["ci"]
    mark = "" if figure["ci_includes_zero"] else " *"
    return f"{figure['mean']:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]{mark}"


def format_table(result: Mapping[str, Any]) -> str:
    """A short markdown summary: condition means, then effects with their intervals."""
    conditions = result["conditions"]
    has_em = any("exact_match" in figures for figures in conditions.values())
    lines = [
        (
            f"Reliance probe: {result['questions']} questions, k={result['k']}, "
            f"{int(result['confidence'] * 100)}% paired-bootstrap CI ({result['bootstrap']} resamples)"
        ),
        "",
        "| condition | answer loss | exact match |" if has_em else "| condition | answer loss |",
        "| --- | ---: | ---: |" if has_em else "| --- | ---: |",
    ]
    for condition in CONDITIONS:
        if condition not in conditions:
            continue
        figures = conditions[condition]
        row = f"| {condition} | {figures['answer_loss']:.3f} |"
        if has_em:
            row += f" {figures.get('exact_match', 0.0):.3f} |"
        lines.append(row)
    lines += ["", "| effect | answer loss (nats) | exact match |", "| --- | --- | --- |"]
    for effect, label in EFFECT_LABELS.items():
        figures = result["effects"].get(effect)
        if figures:
            lines.append(
                f"| {label} | {_interval(figures.get('answer_loss'))} | {_interval(figures.get('exact_match'))} |"
            )
    lines += ["", "`*`: the interval excludes 0."]
    verdicts = {
        "uses": "The model uses related context (reliance interval above 0).",
        "disregards": "The model DISREGARDS related context (reliance interval includes 0).",
        "hurt_by": "Related context HURTS the model's answers (reliance interval below 0).",
    }
    if result.get("context_use") in verdicts:
        lines.append(verdicts[result["context_use"]])
    if result.get("conflict_followed") is not None:
        lines.append(
            f"Under a conflicting context, {100 * result['conflict_followed']:.1f}% of replies name the "
            "conflicting value."
        )
    return "\n".join(lines) + "\n"
