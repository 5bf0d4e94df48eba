"""lm-eval's git-hash lookup without git's `fatal: not a git repository` on the terminal.

`lm_eval.simple_evaluate` records `git describe --always` of the current
folder in its results; run anywhere but a git checkout, git prints a fatal
error on the inherited stderr once per call. `quiet_git_hash` replaces the
lookup `lm_eval.evaluator` uses with the same one run with stderr discarded
(the hash, or lm-eval's own fallback, is unchanged).
"""

from __future__ import annotations

import os
import subprocess


def _git_hash() -> str | None:
    try:
        return subprocess.check_output(["git", "describe", "--always"], stderr=subprocess.DEVNULL).strip().decode()
    except (subprocess.CalledProcessError, FileNotFoundError):
        from lm_eval.loggers.utils import get_commit_from_path

        return get_commit_from_path(os.getcwd())


def quiet_git_hash() -> None:
    """Point `lm_eval.evaluator`'s git-hash lookup at one with git's stderr discarded (no-op if it moved)."""
    from lm_eval import evaluator

    if hasattr(evaluator, "get_git_commit_hash"):
        evaluator.get_git_commit_hash = _git_hash
