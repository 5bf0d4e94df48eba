"""The one error type of the eval package: one sentence a user can act on."""

from __future__ import annotations

from axolotl_packing_bench.core.text import one_line, one_sentence


class EvalError(ValueError):
    """Evaluation or judging could not be done; the message is one sentence.

    The CLI shows it without a traceback; `run_eval_section` records it as an
    ``error`` entry. Messages pass through `sentence` (one line, key-like
    strings redacted, a final period), so no secret reaches a log.
    """

    def __init__(self, message: object):
        super().__init__(sentence(message, limit=500))


clean = one_line
"""`text` on one line, with ``secrets`` and anything key-like redacted (`core.text.one_line`)."""


def sentence(text: object, *secrets: str | None, limit: int = 300) -> str:
    """`clean` text cut to ``limit`` characters and ending with a period (`core.text.one_sentence`)."""
    return one_sentence(text, *secrets, limit=limit, period=True)
