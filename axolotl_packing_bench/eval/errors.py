"""The one error type of the eval package: one sentence a user can act on."""

from __future__ import annotations

from axolotl_packing_bench.core.redaction import redact


class EvalError(ValueError):
    """Evaluation or judging could not be done; the message is one sentence.

    The CLI shows it without a traceback; `run_eval_section` records it as an
    ``error`` entry. Messages pass through `sentence` (one line, key-like
    strings redacted, a final period), so no secret reaches a log.
    """

    def __init__(self, message: object):
        super().__init__(sentence(message, limit=500))


def clean(text: object, *secrets: str | None) -> str:
    """`text` on one line, with ``secrets`` and anything key-like redacted."""
    message = " ".join(str(text).split())
    for secret in secrets:
        if secret:
            message = message.replace(secret, "[REDACTED]")
    return redact(message) or ""


def sentence(text: object, *secrets: str | None, limit: int = 300) -> str:
    """`clean` text cut to ``limit`` characters and ending with a period."""
    message = clean(text, *secrets).rstrip(" .")
    if len(message) > limit:
        message = message[: limit - 1].rstrip() + "…"
    return message + "."
