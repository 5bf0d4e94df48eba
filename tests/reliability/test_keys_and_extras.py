"""The judge's key and the pip extras, said plainly before any work: one sentence, non-zero exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from axolotl_packing_bench.compat.internals import Internal, resolve
from axolotl_packing_bench.eval.judge import api_key_problem, is_local_url
from axolotl_packing_bench.eval.section import judge_key_problem
from tests.support.helpers import FAKE_TRAIN_COMMAND as FAKE

from .conftest import invoke, one_sentence

KEY = "PACKBENCH_TEST_JUDGE_KEY"

MATRIX = """\
name: judged
base: {{sequence_len: 256, micro_batch_size: 2, num_epochs: 1, learning_rate: 1.0e-4}}
axes:
  model: [{{name: small, path: /models/small, size: 1B}}]
  dataset: [{{name: chats, size: 1K, datasets: [{{path: /data/chats.jsonl, ds_type: json, type: chat_template}}]}}]
  strategy: [padding]
eval:
  tasks: []
  judge: {judge}
"""


def judge_args(url: str, *extra: str) -> list[str]:
    return ["judge", "no/such/run", "--judge-base-url", url, "--judge-model", "m", *extra]


class TestJudgeKey:
    @pytest.mark.parametrize(
        "args",
        [
            judge_args("https://judge.example.invalid/v1"),  # a remote judge, the default variable
            judge_args("http://127.0.0.1:9/v1", "--api-key-env", KEY),  # a named variable, even for a local judge
        ],
    )
    def test_judge_refuses_an_unset_key(self, monkeypatch, args):
        monkeypatch.delenv(KEY, raising=False)
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        result = invoke(*args)
        assert result.exit_code == 2
        line = one_sentence(result.output)
        assert "API key variable" in line and "is not set" in line and "--no-api-key" in line
        assert "[REDACTED]" not in line  # the advice itself must not look like a secret

    @pytest.mark.parametrize(
        "args",
        [judge_args("https://judge.example.invalid/v1", "--no-api-key"), judge_args("http://localhost:9/v1")],
    )
    def test_no_key_needed_with_the_flag_or_a_local_default(self, monkeypatch, args):
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        result = invoke(*args)
        assert result.exit_code != 0  # the run dir does not exist: that is what is said, not the key
        assert "API key" not in result.output and "no/such/run" in one_sentence(result.output)

    def test_the_rule_itself(self, monkeypatch):
        monkeypatch.delenv(KEY, raising=False)
        assert is_local_url("http://[::1]:8000/v1") and is_local_url("http://127.0.0.2/v1")
        assert not is_local_url("http://127.0.0.1.example.com/v1") and not is_local_url("not a url")
        assert api_key_problem("http://localhost/v1", KEY, named=True) is not None
        monkeypatch.setenv(KEY, "sk-test-value-that-is-not-printed")
        assert api_key_problem("https://judge.example.invalid/v1", KEY, named=True) is None

    @pytest.mark.parametrize(
        "judge",
        [
            {"base_url": "https://judge.example.invalid/v1", "model": "m", "api_key_env": KEY},
            {"base_url": "https://judge.example.invalid/v1", "model": "m"},
        ],
    )
    def test_run_refuses_before_training_when_the_matrix_judge_key_is_unset(self, tmp_path, monkeypatch, judge):
        monkeypatch.chdir(tmp_path)
        monkeypatch.delenv(KEY, raising=False)
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        monkeypatch.setenv("FAKE_TRAIN_CALLS", str(tmp_path / "calls.txt"))
        Path("m.yaml").write_text(MATRIX.format(judge=json.dumps(judge)))
        result = invoke("run", "--matrix", "m.yaml", "--train-command", FAKE)
        assert result.exit_code == 2
        line = one_sentence(result.output)
        assert "eval.judge:" in line and "is not set" in line and "set no_api_key to true" in line
        assert not (tmp_path / "calls.txt").exists() and not Path("leaderboard").exists()

    def test_a_matrix_judge_may_say_it_needs_no_key(self, monkeypatch):
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        assert (
            judge_key_problem({"judge": {"base_url": "https://j.example.invalid/v1", "model": "m", "no_api_key": True}})
            is None
        )
        assert judge_key_problem({"judge": {"base_url": "http://127.0.0.1:8000/v1", "model": "m"}}) is None


BLOCK = "import sys; sys.modules.update(dict.fromkeys({modules!r})); from axolotl_packing_bench.cli import main; main()"


def packbench_without(modules: list[str], *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`packbench ARGS` in a fresh interpreter where `modules` cannot be imported (as if their extra were missing)."""
    code = BLOCK.format(modules=modules)
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "FAKE_TRAIN_CALLS": str(cwd / "calls.txt")},
    )


class TestExtras:
    @pytest.mark.parametrize(
        ("modules", "extra_args", "extra"),
        [
            (["axolotl"], [], "axolotl"),  # a core-only install: Axolotl's train entry
            (["ray"], ["--backend", "ray", "--train-command", FAKE], "cluster"),
        ],
    )
    def test_run_names_the_missing_extra_before_training(self, tmp_path, modules, extra_args, extra):
        (tmp_path / "m.yaml").write_text(MATRIX.format(judge="null").replace("eval:\n  tasks: []\n  judge: null\n", ""))
        done = packbench_without(modules, "run", "--matrix", "m.yaml", *extra_args, cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().splitlines()[-1] == (
            f"Error: packbench run needs the `{modules[0]}` package, which the `{extra}` extra installs; "
            f"run pip install 'axolotl-packing-bench[{extra}]'."
        )
        assert "Traceback" not in done.stderr and not (tmp_path / "calls.txt").exists()
        assert not (tmp_path / "leaderboard" / "results.jsonl").exists()

    def test_a_compat_internal_of_a_missing_distribution_names_the_extra(self, monkeypatch):
        monkeypatch.setitem(sys.modules, "axolotl", None)
        internal = Internal("thing", "axolotl", ("axolotl.utils:thing",), ("0.19", "0.21"), "axolotl_api.py")
        with pytest.raises(ModuleNotFoundError, match=r"`axolotl` extra installs") as caught:
            resolve(internal)
        assert "moved" not in str(caught.value)
