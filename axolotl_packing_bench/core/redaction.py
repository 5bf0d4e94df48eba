"""One redaction for every string that reaches a file: API keys and tokens become [REDACTED]."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[REDACTED]"

_SECRET = re.compile(
    r"(hf_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{20,}|(?i:(?:api[_-]?key|token|secret|password)\s*[=:]\s*)\S+)"
)


def redact(text: str | None) -> str | None:
    """`text` with anything that looks like an API key or token replaced by [REDACTED]."""
    if text is None:
        return None
    return _SECRET.sub(REDACTED, text)


def redact_all(value: Any) -> Any:
    """A copy of `value` with every string in it (keys too, at any depth) redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redact_all(key) if isinstance(key, str) else key: redact_all(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_all(item) for item in value]
    return value
