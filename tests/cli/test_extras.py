"""A command whose extra is missing says which extra to install (issue 14, defect 9)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from axolotl_packing_bench.cli import main
from axolotl_packing_bench.core.extras import EXTRAS, extra_for, missing_message, require


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_every_extra_of_pyproject_is_mapped():
    import tomllib

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"]
    assert set(EXTRAS.values()) <= set(extras)
    assert extra_for("openai") == "eval" and extra_for("lm_eval.api") == "eval" and extra_for("ray") == "cluster"
    assert extra_for("numpy") is None and missing_message("numpy") is None


@pytest.mark.parametrize(
    ("module", "argv", "extra"),
    [
        ("openai", ["judge", "some/run", "--judge-base-url", "http://127.0.0.1:9/v1", "--judge-model", "m"], "eval"),
        ("lm_eval", ["eval", "some/run"], "eval"),
        ("torch", ["probe", "reliance", "--model", "m", "--data", "d.jsonl"], "axolotl"),
    ],
)
def test_missing_module_names_its_extra(monkeypatch: pytest.MonkeyPatch, module: str, argv: list[str], extra: str):
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now fails as if it were not installed
    result = invoke(*argv)
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"Error: packbench {argv[0]} needs the `{module}` package, which the `{extra}` extra installs; "
        f"run pip install 'axolotl-packing-bench[{extra}]'.\n"
    )


def test_a_module_imported_deep_inside_a_command_is_caught_too(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """No up-front check in `assets`: the group turns the import error raised mid-build into the sentence.

    The tokenizer ships built; `--rebuild` builds it, which imports `tokenizers`.
    """
    monkeypatch.setenv("PACKBENCH_HOME", str(tmp_path))
    monkeypatch.setitem(sys.modules, "tokenizers", None)
    result = invoke("assets", "--only", "tokenizer", "--rebuild")
    assert result.exit_code == 2, result.output
    assert result.output.endswith(
        "Error: packbench assets needs the `tokenizers` package, which the `axolotl` extra installs; "
        "run pip install 'axolotl-packing-bench[axolotl]'.\n"
    )


def test_other_missing_modules_stay_errors(monkeypatch: pytest.MonkeyPatch):
    """A module no extra installs is a bug of ours, not the user's: it is not dressed up as an extra."""
    import axolotl_packing_bench.packing as packing

    def broken(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'not_an_extra'", name="not_an_extra")

    monkeypatch.setattr(packing, "synthetic_lengths", broken)
    with pytest.raises(ModuleNotFoundError, match="not_an_extra"):
        invoke("stats", "--capacity", "8")


def test_require_imports_nothing(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "openai", None)
    with pytest.raises(ModuleNotFoundError) as caught:
        require("json", "openai", command="judge")
    assert caught.value.name == "openai" and "[eval]" in str(caught.value)
