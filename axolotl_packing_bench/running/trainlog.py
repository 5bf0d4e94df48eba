"""Read what a training log says: the error that ended it, or Axolotl's final figures.

Used when the plugin left no metrics: a crash before it started, or a plain
Axolotl recipe (`plugin: false`), whose Hugging Face trainer prints
`{'train_runtime': '65.37', 'train_samples_per_second': '10.46', ...}`.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from axolotl_packing_bench.core.text import one_sentence

_ERROR = re.compile(
    r"^\s*(?:[A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit)\b.*"
    r"|.*\b(?:error|Error|ERROR)\b:.*"
    r"|Killed\b.*|Segmentation fault.*)$"
)
_NOT_ERROR = re.compile(r"Warning|warnings\.warn|\[WARNING\]|UserWarning|FutureWarning")
_STEPS = re.compile(r"(\d+)/(\d+) \[")
_TRAIN_DICT = re.compile(r"\{[^{}]*'train_runtime'[^{}]*\}")
_LOSS_DICT = re.compile(r"\{[^{}]*'loss'[^{}]*\}")


def _lines(text: str) -> list[str]:
    # tqdm redraws with \r: keep the last state of each physical line
    return [line.rsplit("\r", 1)[-1].strip() for line in text.splitlines()]


def last_error_line(text: str) -> str | None:
    """The last line that looks like an error (`ValueError: ...`), else the last line."""
    lines = [line for line in _lines(text) if line]
    for line in reversed(lines):
        if _ERROR.match(line) and not _NOT_ERROR.search(line):
            return one_sentence(line)
    return one_sentence(lines[-1]) if lines else None


def _literal(text: str) -> dict[str, Any]:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return {}
    return value if isinstance(value, dict) else {}


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def metrics_from_log(text: str) -> dict[str, Any]:
    """Training figures printed by the Hugging Face trainer, in the metrics layout.

    Returns {} when the log holds no final `train_runtime` line.
    """
    finals = _TRAIN_DICT.findall(text)
    if not finals:
        return {}
    final = _literal(finals[-1])
    losses = [_literal(match) for match in _LOSS_DICT.findall(text)]
    losses = [loss for loss in losses if "loss" in loss and "train_runtime" not in loss]
    steps = _STEPS.findall(text)
    runtime = _float(final.get("train_runtime"))
    samples_per_s = _float(final.get("train_samples_per_second"))
    return {
        "status": "ok",
        "source": "log",
        "training": {
            "steps": int(steps[-1][1]) if steps else None,
            "epochs": _float(final.get("epoch")),
            "runtime_s": runtime,
            "samples_per_s": samples_per_s,
            "real_tokens_per_s": None,
            "final_train_loss": _float(losses[-1]["loss"]) if losses else _float(final.get("train_loss")),
            "eval_loss": None,
        },
    }
