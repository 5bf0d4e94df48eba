"""lm-eval's git-hash lookup, run outside a git checkout, prints nothing."""

from __future__ import annotations

import pytest


def test_git_hash_outside_a_checkout_is_silent(tmp_path, monkeypatch, capfd):
    pytest.importorskip("lm_eval")
    from lm_eval import evaluator

    from axolotl_packing_bench.compat.lm_eval_api import quiet_git_hash

    monkeypatch.setattr(evaluator, "get_git_commit_hash", evaluator.get_git_commit_hash)  # undone after the test
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    quiet_git_hash()
    assert evaluator.get_git_commit_hash() is None
    assert "fatal" not in capfd.readouterr().err
