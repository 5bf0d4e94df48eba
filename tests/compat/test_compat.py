"""The adapter modules: every internal they expose resolves here, a moved one says so in one sentence,
and no other module imports Axolotl's or transformers' internals."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from axolotl_packing_bench.compat import (
    Internal,
    InternalMoved,
    axolotl_api,
    installed_version,
    resolve,
    transformers_api,
)

PACKAGE = Path(__file__).parents[2] / "axolotl_packing_bench"
ADAPTERS = {"axolotl": axolotl_api, "transformers": transformers_api}
EXPOSED = [(distribution, name) for distribution, module in ADAPTERS.items() for name in module.INTERNALS]


@pytest.mark.parametrize(("distribution", "name"), EXPOSED, ids=[f"{d}.{n}" for d, n in EXPOSED])
def test_every_exposed_internal_resolves_in_the_installed_release(distribution, name):
    if importlib.util.find_spec(distribution) is None:
        pytest.skip(f"{distribution} is not installed (pip install -e '.[axolotl]')")
    try:
        value = getattr(ADAPTERS[distribution], name)  # the path `from ...compat.<adapter> import name` takes
    except InternalMoved as moved:
        pytest.fail(str(moved), pytrace=False)
    assert value is not None
    assert getattr(ADAPTERS[distribution], name) is value  # cached after the first use


def test_the_train_modules_the_warm_worker_preloads_exist():
    if importlib.util.find_spec("axolotl") is None:
        pytest.skip("axolotl is not installed (pip install -e '.[axolotl]')")
    missing = [name for name in axolotl_api.TRAIN_MODULES if importlib.util.find_spec(name) is None]
    assert missing == [], (
        f"axolotl {installed_version('axolotl')} has none of {missing}: update TRAIN_MODULES in compat/axolotl_api.py"
    )


def test_a_moved_internal_is_one_sentence_naming_it_the_version_and_the_file():
    moved = Internal(
        name="no_such_function",
        distribution="pytest",
        locations=("pytest:no_such_function", "no_such_package.sub:x"),
        tested=("8.0", "8.3"),
        adapter="axolotl_api.py",
    )
    with pytest.raises(InternalMoved) as raised:
        resolve(moved)
    assert str(raised.value) == (
        f"pytest {installed_version('pytest')} moved `no_such_function`: it is not at pytest.no_such_function or "
        "no_such_package.sub.x, where pytest 8.0 to 8.3 keep it; install pytest 8.0 to 8.3, or teach "
        "axolotl_packing_bench/compat/axolotl_api.py where this release keeps it."
    )


def test_a_later_location_is_used_when_the_first_is_gone():
    internal = Internal(
        name="Path",
        distribution="python",
        locations=("no_such_module:Path", "pathlib:Path"),
        tested=("3.11", "3.12"),
        adapter="axolotl_api.py",
    )
    assert resolve(internal) is Path


def test_a_module_that_exists_but_fails_to_import_is_not_reported_as_moved(tmp_path, monkeypatch):
    (tmp_path / "packbench_broken_module.py").write_text("import packbench_dependency_not_installed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    internal = Internal(
        name="x",
        distribution="python",
        locations=("packbench_broken_module:x",),
        tested=("3.11", "3.12"),
        adapter="axolotl_api.py",
    )
    with pytest.raises(ModuleNotFoundError) as raised:
        resolve(internal)
    assert not isinstance(raised.value, InternalMoved)
    assert raised.value.name == "packbench_dependency_not_installed"


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'prepare_dataset'"):
        axolotl_api.prepare_dataset  # noqa: B018


def test_importing_the_adapters_imports_neither_axolotl_nor_transformers():
    code = (
        "import sys, axolotl_packing_bench.compat.axolotl_api, axolotl_packing_bench.compat.transformers_api; "
        "print(sorted(m for m in ('axolotl', 'transformers', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _internal_imports(path: Path) -> list[str]:
    """`module` or `module.name` imports of Axolotl or of transformers internals in one file."""
    internal_names = set(transformers_api.INTERNALS)
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [
                a.name for a in node.names if a.name.split(".")[0] == "axolotl" or a.name.startswith("transformers.")
            ]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            top = node.module.split(".")[0]
            if top == "axolotl" or node.module.startswith("transformers."):
                found.append(node.module)
            elif node.module == "transformers":
                found += [f"transformers.{a.name}" for a in node.names if a.name in internal_names]
    return found


def test_only_the_adapters_import_axolotl_or_transformers_internals():
    offenders = {
        str(path.relative_to(PACKAGE)): imports
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.parent.name != "compat" and (imports := _internal_imports(path))
    }
    assert offenders == {}, "import these through axolotl_packing_bench.compat instead"


def test_the_check_sees_an_internal_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def f():\n    from axolotl.utils.data import prepare_datasets\n"
        "    from transformers import AttentionInterface, AutoTokenizer\n"
    )
    assert _internal_imports(sample) == ["axolotl.utils.data", "transformers.AttentionInterface"]


PRIVATE_ATTRIBUTES = ("_attn_implementation", "_get_num_items_in_batch", "_get_train_sampler")
"""Private attributes of transformers/Axolotl objects; only the adapters name them (`transformers_api.ATTRIBUTES`)."""


def _names_outside_compat(match) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.parent.name == "compat":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            texts = (
                [node.attr]
                if isinstance(node, ast.Attribute)
                else [node.value]
                if (isinstance(node, ast.Constant) and isinstance(node.value, str))
                else []
            )
            found.setdefault(str(path.relative_to(PACKAGE)), []).extend(t for t in texts if match(t))
    return {name: hits for name, hits in found.items() if hits}


def test_private_attributes_are_used_only_through_the_adapters():
    assert _names_outside_compat(lambda text: text in PRIVATE_ATTRIBUTES) == {}
    assert {name.split(".")[1] for name in transformers_api.ATTRIBUTES} <= set(PRIVATE_ATTRIBUTES)


def test_axolotl_module_paths_are_named_only_by_the_adapter():
    # the train command and the warm worker's preload list come from axolotl_api (CLI_MODULE, TRAIN_MODULES)
    def names_a_module(text: str) -> bool:
        return text.startswith("axolotl.") and " " not in text and text != "axolotl.packbench"  # the plugin's logger

    offenders = _names_outside_compat(names_a_module)
    from axolotl_packing_bench.running.runner import DEFAULT_TRAIN_COMMAND
    from axolotl_packing_bench.running.warm import AXOLOTL_PRELOAD

    assert axolotl_api.CLI_MODULE in DEFAULT_TRAIN_COMMAND and set(axolotl_api.TRAIN_MODULES) <= set(AXOLOTL_PRELOAD)
    assert offenders == {}


def test_the_attention_and_item_count_accessors_work_on_the_installed_release():
    pytest.importorskip("transformers")
    from transformers import LlamaConfig, Trainer

    config = LlamaConfig(vocab_size=11, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8)
    transformers_api.set_attn_implementation(config, "eager")
    assert transformers_api.attn_implementation(config) == "eager" == config._attn_implementation
    assert callable(getattr(Trainer, "_get_num_items_in_batch", None)), "transformers renamed the item count hook"
    holder = type("T", (), {})()
    transformers_api.count_items_with(holder, len)
    assert holder._get_num_items_in_batch is len


def test_several_ranks_train_as_one_data_parallel_run(monkeypatch):
    """Two ranks: the token mean over both; without CUDA the CPU and gloo, and accelerate told so."""
    import torch

    from axolotl_packing_bench.compat.axolotl_api import USE_CPU_ENV, several_ranks_training_args

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    environ: dict[str, str] = {}
    assert several_ranks_training_args({"world_size": 1}, environ) == {} and environ == {}
    assert several_ranks_training_args({"world_size": 2}, environ) == {
        "average_tokens_across_devices": True,
        "use_cpu": True,
        "ddp_backend": "gloo",
    }
    assert environ == {USE_CPU_ENV: "true"}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    environ.clear()
    assert several_ranks_training_args({"world_size": 4}, environ) == {"average_tokens_across_devices": True}
    assert environ == {}  # GPUs: accelerate picks its own backend (nccl)


def test_several_ranks_without_cuda_keep_their_models_on_the_cpu(monkeypatch):
    import torch

    from axolotl_packing_bench.compat.axolotl_api import keep_ranks_on_the_cpu, ranks_without_cuda

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert ranks_without_cuda({"world_size": 2}) and not ranks_without_cuda({"world_size": 1})
    device_map = {"": 1}  # what Axolotl sets for LOCAL_RANK 1; the model loader holds this very object
    cfg = {"world_size": 2, "device_map": device_map}
    assert keep_ranks_on_the_cpu(cfg) is True
    assert device_map == {"": "cpu"} and cfg["device_map"] is device_map
    assert keep_ranks_on_the_cpu({"world_size": 1, "device_map": {"": 0}}) is False  # one process: Axolotl's own
    assert keep_ranks_on_the_cpu({"world_size": 2, "device_map": "auto"}) is False
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    cuda_map = {"": 1}
    assert keep_ranks_on_the_cpu({"world_size": 2, "device_map": cuda_map}) is False and cuda_map == {"": 1}
    assert not ranks_without_cuda({"world_size": 2})


def test_resetting_the_plugin_manager_keeps_the_instance_axolotls_modules_hold():
    """The warm worker resets plugins per cell; Axolotl's train and loaders call hooks through the instance they
    imported, so a new instance would silently skip post_model_load and post_trainer_create."""
    train = pytest.importorskip("axolotl.train")
    from axolotl.integrations.base import PluginManager

    from axolotl_packing_bench.compat.axolotl_api import register_plugin, reset_plugin_manager
    from axolotl_packing_bench.plugin.args import PLUGIN_PATH

    assert register_plugin(PLUGIN_PATH)
    reset_plugin_manager()
    # Axolotl 0.19 holds the manager from import time; 0.21 asks get_instance() at each hook.
    held = getattr(train, "PLUGIN_MANAGER", PluginManager.get_instance())
    assert PluginManager.get_instance() is held and PLUGIN_PATH not in held.plugins  # 0.21 keeps its built-ins
    assert register_plugin(PLUGIN_PATH)  # the next cell registers its own: the hooks reach it
    assert PLUGIN_PATH in held.plugins
    reset_plugin_manager()
