"""One place per fact: each name, default and rule several parts use has one home that the others import.

The `*_homes` helpers read the package's source with ast, so a copy written
anywhere else (a literal, a second `def`) fails the check naming its file.
"""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from axolotl_packing_bench import constants

PACKAGE = Path(constants.__file__).parent


@functools.cache
def _trees() -> dict[str, ast.Module]:
    return {
        str(path.relative_to(PACKAGE)): ast.parse(path.read_text(encoding="utf-8")) for path in PACKAGE.rglob("*.py")
    }


def _docstrings(tree: ast.Module) -> set[int]:
    nodes = [tree, *(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))]
    found = {id(n.body[0].value) for n in nodes if n.body and isinstance(n.body[0], ast.Expr)}
    # attribute docstrings: a bare string right after an assignment
    for node in ast.walk(tree):
        for field in ("body", "orelse"):
            body = getattr(node, field, None)
            if isinstance(body, list):
                found |= {
                    id(b.value)
                    for a, b in zip(body, body[1:])
                    if isinstance(a, (ast.Assign, ast.AnnAssign))
                    and isinstance(b, ast.Expr)
                    and isinstance(b.value, ast.Constant)
                }
    return found


def string_homes(match: Callable[[str], bool]) -> set[str]:
    """Modules holding a string literal (docstrings aside) that `match`es."""
    homes = set()
    for name, tree in _trees().items():
        skip = _docstrings(tree)
        if any(
            isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in skip and match(n.value)
            for n in ast.walk(tree)
        ):
            homes.add(name)
    return homes


def def_homes(name: str) -> set[str]:
    """Modules defining `name` at top level (a function, class or assignment)."""
    homes = set()
    for module, tree in _trees().items():
        for node in tree.body:
            targets = [node.name] if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else []
            if isinstance(node, ast.Assign):
                targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                targets = [node.target.id]
            if name in targets:
                homes.add(module)
    return homes


def test_constants_and_core_import_nothing_heavy():
    code = (
        "import sys, axolotl_packing_bench.constants, axolotl_packing_bench.core.fileio, "
        "axolotl_packing_bench.core.environment, axolotl_packing_bench.core.redaction, "
        "axolotl_packing_bench.core.extras, axolotl_packing_bench.data.files, axolotl_packing_bench.core.last_word; "
        "print(sorted(m for m in ('torch', 'axolotl', 'openai', 'transformers', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_matrix_and_plugin_read_the_same_names():
    from axolotl_packing_bench.matrix import spec as matrix
    from axolotl_packing_bench.packing import STRATEGIES

    assert matrix.PLUGIN == constants.PLUGIN_PATH and matrix.NATIVE == constants.NATIVE
    assert matrix.ATTENTIONS == constants.ATTENTIONS and constants.DEFAULT_ATTENTION in constants.ATTENTIONS
    assert matrix.STRATEGY_ORDER[0] == constants.BASELINE_STRATEGY in STRATEGIES
    assert constants.DEFAULT_STRATEGY in STRATEGIES and constants.NATIVE not in STRATEGIES


def test_metrics_file_name_is_one_fact():
    from axolotl_packing_bench.eval import rundir
    from axolotl_packing_bench.results import record

    assert record.METRICS_FILE == rundir.METRICS_FILE == constants.METRICS_FILE


def test_groups_default_is_one_fact():
    from axolotl_packing_bench.plugin import relatedness

    assert relatedness.DEFAULT_K == constants.DEFAULT_GROUPS_K


def test_reliance_effects_are_the_probes():
    from axolotl_packing_bench.probes.reliance import EFFECTS

    assert tuple(EFFECTS) == constants.RELIANCE_EFFECTS


def test_the_uri_scheme_is_written_once_and_parsed_once():
    assert string_homes(lambda text: text.startswith("packbench://") or text == "packbench") == {"constants.py"}
    assert def_homes("URI_PREFIX") == def_homes("URI_SCHEME") == {"constants.py"}
    uses_urlsplit = {
        m
        for m, tree in _trees().items()
        if any(isinstance(n, ast.alias) and n.name in ("urlsplit", "urlparse") for n in ast.walk(tree))
    }
    assert uses_urlsplit - {"eval/judge.py"} == {"assets/uri.py"}  # the judge parses its server's http URL


def test_reliance_probe_defaults_and_settings_have_one_home():
    from axolotl_packing_bench.probes.reliance_entry import SETTINGS
    from axolotl_packing_bench.report.reliance_experiment import PROBE_KEYS

    assert PROBE_KEYS == tuple(SETTINGS)
    assert def_homes("PROBE_KEYS") == {"report/reliance_experiment.py"} and def_homes("SETTINGS") == {
        "probes/reliance_entry.py"
    }
    assert string_homes(lambda text: text.startswith("packbench://heldout")) <= {"constants.py"}
    import inspect

    from axolotl_packing_bench.probes.reliance import run_reliance_probe

    defaults = inspect.signature(run_reliance_probe).parameters
    assert (defaults["k"].default, defaults["bootstrap"].default, defaults["seed"].default) == (
        constants.RELIANCE_K,
        constants.RELIANCE_BOOTSTRAP,
        constants.RELIANCE_SEED,
    )
    from axolotl_packing_bench.cli.probe import reliance

    options = {p.name: p.default for p in reliance.params}
    assert (options["k"], options["bootstrap"], options["seed"]) == (
        constants.RELIANCE_K,
        constants.RELIANCE_BOOTSTRAP,
        constants.RELIANCE_SEED,
    )


def _importers(module: str) -> set[str]:
    return {
        name
        for name, tree in _trees().items()
        if any(isinstance(n, ast.Import) and any(a.name == module for a in n.names) for n in ast.walk(tree))
    }


def test_text_and_file_helpers_have_one_home():
    assert def_homes("redact") == {"core/redaction.py"}
    assert string_homes(lambda text: "hf_[A-Za-z0-9]" in text) == {"core/redaction.py"}
    for name in ("did_you_mean", "one_sentence", "shown_path"):
        assert def_homes(name) == {"core/text.py"}, name
    assert def_homes("read_tail") == {"core/fileio.py"}
    assert _importers("difflib") == {"core/text.py"}
    assert _importers("fcntl") == {"core/fileio.py"}  # every file lock is `core.fileio.locked` or `try_lock`


def test_the_baseline_and_the_seed_axis_have_one_home():
    assert string_homes(lambda text: text == constants.BASELINE_STRATEGY) == {"constants.py"}
    assert string_homes(lambda text: text == constants.SEED_AXIS) <= {
        "constants.py",
        *(m for m in _trees() if not m.startswith(("report/", "results/"))),
    }  # `seed` is also an option name elsewhere
    assert def_homes("SEED_AXIS") == {"constants.py"} and def_homes("BASELINE_STRATEGY") == {"constants.py"}
    for name in ("baseline_finder", "pairing_key"):
        assert def_homes(name) == {"results/baseline.py"}
    users = {
        m
        for m, tree in _trees().items()
        if any(
            isinstance(n, ast.ImportFrom) and n.module == "axolotl_packing_bench.results.baseline"
            for n in ast.walk(tree)
        )
    }
    assert users >= {
        "report/leaderboard.py",
        "report/compare.py",
        "report/sweep.py",
        "running/follow_up.py",
        "eval/judge.py",
    }


def test_strategy_display_order_has_one_home():
    assert def_homes("STRATEGY_ORDER") == {"matrix/spec.py"}
    from axolotl_packing_bench.cli.stats import _strategy_names
    from axolotl_packing_bench.matrix.spec import STRATEGY_ORDER
    from axolotl_packing_bench.packing import STRATEGIES

    shown = _strategy_names(None, STRATEGIES)
    assert shown[0] == constants.BASELINE_STRATEGY and shown == [s for s in STRATEGY_ORDER if s in STRATEGIES]
    assert def_homes("FALLBACK_STRATEGIES") == set()


def test_default_paths_and_latest_results_have_one_home():
    for name in ("DEFAULT_RESULTS", "DEFAULT_LEADERBOARD"):
        assert def_homes(name) == {"constants.py"}, name
    assert string_homes(lambda text: text.startswith("leaderboard/") and text.endswith((".jsonl", ".md"))) == {
        "constants.py"
    }
    assert def_homes("latest_by") == def_homes("latest_of_run") == {"results/store.py"}
    assert def_homes("_latest") == set()


def test_native_is_named_once_and_its_attention_derived_once():
    assert string_homes(lambda text: text == constants.NATIVE) == {"constants.py"}
    assert constants.NATIVE_ATTENTION in constants.ATTENTIONS and def_homes("NATIVE_ATTENTION") == {"constants.py"}
    from axolotl_packing_bench.plugin.args import PackingBenchArgs

    assert PackingBenchArgs.model_fields["packbench_attention"].default == constants.NATIVE_ATTENTION
    assert def_homes("known_strategies") == {"packing/registry.py"}


def test_what_native_means_for_sample_packing_is_derived_once():
    """The matrix writes it into recipes and the plugin's config check enforces it, both through one function."""
    assert def_homes("sample_packing_for") == {"constants.py"}
    users = {
        m
        for m, tree in _trees().items()
        if any(isinstance(n, ast.Name) and n.id == "sample_packing_for" for n in ast.walk(tree))
    }
    assert users == {"matrix/spec.py", "plugin/args.py"}
    assert constants.sample_packing_for(constants.NATIVE)
    assert not constants.sample_packing_for(constants.DEFAULT_STRATEGY)


def test_dead_paths_stay_gone():
    assert def_homes("run_matrix") == set() and def_homes("default_metrics_file") == set()
    assert string_homes(lambda text: text.endswith("plugin/args.py") or "not wired in" in text) == set()


def test_one_cell_process_lifecycle():
    assert def_homes("CellRun") == {"running/runner.py"}
    assert string_homes(lambda text: text == ".running") == {"running/runner.py"}
    lifecycle = {
        m for m, tree in _trees().items() if any(isinstance(n, ast.Name) and n.id == "CellRun" for n in ast.walk(tree))
    }
    assert lifecycle == {"running/runner.py", "running/backends/local.py"}
    assert not any(
        isinstance(n, ast.Attribute) and n.attr == "killpg" for n in ast.walk(_trees()["running/backends/local.py"])
    )


def test_shared_test_fixtures_are_defined_once():
    tests = Path(__file__).parent
    for name in ("offline", "tiny_model"):
        homes = sorted(
            str(path.relative_to(tests))
            for path in tests.rglob("*.py")
            if f"def {name}(" in path.read_text(encoding="utf-8")
        )
        assert homes == ["conftest.py"], name
