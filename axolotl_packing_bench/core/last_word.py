"""The plugin's own sentence, printed last when it is what stopped the run.

A config error the plugin raises reaches the user inside Axolotl's pydantic
`ValidationError`, after a traceback and the whole config echoed back (~50
lines); a dataset error, after the traceback of Axolotl's data loading.
`fatal(sentence)` remembers the sentence; at exit, if the process is dying
of an uncaught exception that carries it, the sentence is printed once more
as the last line on stderr: `packbench error: <sentence>.` A caught error (e.g.
`packbench validate`, which reports it itself) prints nothing.
"""

from __future__ import annotations

import atexit
import sys

_SENTENCES: list[str] = []
PREFIX = "packbench error: "  # matches the runner's error-line pattern (bench.trainlog), so it becomes the reason


def fatal(sentence: str) -> str:
    """Remember `sentence` to repeat at exit if it kills the process; returns it (for `raise ValueError(...)`)."""
    if not _SENTENCES:
        atexit.register(_say_last)
    if sentence not in _SENTENCES:
        _SENTENCES.append(sentence)
    return sentence


def _uncaught() -> BaseException | None:
    # the interpreter stores the exception it printed before running atexit handlers
    return getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)


def last_words(error: BaseException | None) -> list[str]:
    """The remembered sentences that `error` (its text, or that of an exception it was raised from) carries."""
    texts = []
    while error is not None and len(texts) < 10:
        texts.append(str(error))
        error = error.__cause__ or error.__context__
    return [s for s in _SENTENCES if any(s in text for text in texts)]


def _say_last() -> None:
    for sentence in last_words(_uncaught()):
        print(f"\n{PREFIX}{sentence.rstrip('.')}.", file=sys.stderr, flush=True)
