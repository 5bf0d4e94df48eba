"""Greedy answers of a run's model to a prompt set, saved in the run directory.

Answers are generated locally with transformers (chat template when the
tokenizer has one, left-padded batches, greedy) and kept in
``RUN_DIR/packbench_answers-<prompt set digest>.json`` with the run id and
``max_new_tokens``, so judging again (another judge, the other mode, or as a
pairwise baseline for the next cell) does not generate them again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from axolotl_packing_bench.core.fileio import atomic_write_text
from axolotl_packing_bench.eval.errors import EvalError
from axolotl_packing_bench.eval.harness import release_memory
from axolotl_packing_bench.eval.prompts import PromptSet
from axolotl_packing_bench.eval.rundir import RunDir


def answers_path(run: RunDir, prompts: PromptSet) -> Path:
    return run.path / f"packbench_answers-{prompts.digest}.json"


def _cached(path: Path, run: RunDir, prompts: PromptSet, max_new_tokens: int) -> list[str] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if data.get("run_id") != run.run_id or data.get("max_new_tokens") != max_new_tokens:
        return None
    answers = data.get("answers")
    if not isinstance(answers, list) or len(answers) != len(prompts.prompts):
        return None
    by_id = {row.get("id"): row.get("answer") for row in answers if isinstance(row, dict)}
    values = [by_id.get(p.id) for p in prompts.prompts]
    return values if all(isinstance(v, str) for v in values) else None


def _render(tokenizer: Any, prompt: str) -> tuple[str, bool]:
    """The text to continue, and whether it already holds the special tokens."""
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
        return str(text), True
    return prompt, False


def generate_answers(
    run: RunDir,
    prompts: PromptSet,
    *,
    max_new_tokens: int = 256,
    device: str = "cpu",
    dtype: str = "float32",
    batch_size: int = 8,
    reuse: bool = True,
) -> tuple[list[str], bool]:
    """Answers of ``run``'s model, in prompt order, and whether they came from the file."""
    path = answers_path(run, prompts)
    if reuse and (cached := _cached(path, run, prompts, max_new_tokens)) is not None:
        return cached, True
    answers = _generate(run, [p.prompt for p in prompts.prompts], max_new_tokens, device, dtype, batch_size)
    payload = {
        "run_id": run.run_id,
        "prompt_set": prompts.name,
        "max_new_tokens": max_new_tokens,
        "answers": [{"id": p.id, "answer": a} for p, a in zip(prompts.prompts, answers, strict=True)],
    }
    atomic_write_text(path, json.dumps(payload, ensure_ascii=False, indent=1) + "\n")
    return answers, False


def _generate(
    run: RunDir, texts: Sequence[str], max_new_tokens: int, device: str, dtype: str, batch_size: int
) -> list[str]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(run.adapter_path or run.path))
        model = AutoModelForCausalLM.from_pretrained(run.model_path, dtype=getattr(torch, dtype, "auto"))
        if run.adapter_path is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(run.adapter_path))
        model.to(device).eval()
    except Exception as error:  # noqa: BLE001 - any load failure is one sentence
        raise EvalError(f"cannot load the model in {run.path} to answer the prompts: {error}") from None
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    answers: list[str] = []
    for start in range(0, len(texts), max(batch_size, 1)):
        rendered = [_render(tokenizer, text) for text in texts[start : start + batch_size]]
        special = rendered[0][1]
        batch = tokenizer(
            [text for text, _ in rendered], return_tensors="pt", padding=True, add_special_tokens=not special
        ).to(device)
        with torch.inference_mode():
            output = model.generate(
                **batch,
                do_sample=False,
                max_new_tokens=max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
            )
        new_tokens = output[:, batch["input_ids"].shape[1] :]
        answers += [text.strip() for text in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
    del model
    release_memory()
    return answers
