"""Records rendered as an Axolotl recipe's dataset `type` renders them, for `packbench stats --config`.

A chat dataset read on its own (SOURCE) is rendered with the tokenizer's chat
template (`data.lengths`), as `type: chat_template` trains it. A recipe entry of
`type: alpaca` (or `alpaca:<style>`) trains on Axolotl's Alpaca prompt instead:

    Below is an instruction that describes a task. Write a response that appropriately completes the request.

    ### Instruction:
    {instruction}

    ### Response:
    {output}<eos>

which adds tens of tokens to every sample; read as a chat, every sample would
count shorter than the trainer sees it. The text is
built by Axolotl's own `AlpacaPrompter` and tokenized as its
`AlpacaPromptTokenizingStrategy` does (prompt, then the output without its BOS
and with an EOS).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ALPACA = "alpaca"


class PromptFormatError(ValueError):
    """A record the recipe's dataset type cannot render; one sentence."""


def recipe_format(entry: Mapping[str, Any]) -> str | None:
    """The prompt format a recipe's dataset entry trains on when it is not a chat (`alpaca[:style]`), else None."""
    kind = entry.get("type")
    if isinstance(kind, str) and kind.split(":", 1)[0] == ALPACA:
        return kind
    return None


def alpaca_ids(record: Any, tokenizer: Any, kind: str, where: str) -> list[int]:
    """A record's token ids as Axolotl's `type: alpaca[:style]` tokenizes it."""
    from axolotl_packing_bench.compat.axolotl_api import AlpacaPrompter

    if not isinstance(record, Mapping) or "instruction" not in record or "output" not in record:
        raise PromptFormatError(
            f"{where} has no 'instruction' and 'output', which the recipe's dataset type {kind} reads; "
            "fix the record or the dataset's type."
        )
    style = kind.split(":", 1)[1] if ":" in kind else None
    prompt = next(iter(AlpacaPrompter(style).build_prompt(str(record["instruction"]), str(record.get("input") or ""))))
    ids = list(tokenizer(prompt)["input_ids"]) if prompt else []
    output = str(record["output"] or "")
    if not output:
        return ids
    answer = list(tokenizer(output)["input_ids"])
    eos, bos = tokenizer.eos_token_id, tokenizer.bos_token_id
    if answer and eos is not None and answer[-1] != eos:
        answer.append(eos)
    if answer and bos is not None and answer[0] == bos:
        answer = answer[1:]
    return ids + answer
