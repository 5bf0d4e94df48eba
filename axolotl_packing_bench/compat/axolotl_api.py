"""Axolotl internals, imported here and nowhere else (see the `compat` package docstring).

Names in `INTERNALS` are imported on first use:

    from axolotl_packing_bench.compat.axolotl_api import BasePlugin

The functions below wrap the internals whose call shape differs between
releases (or that the package calls in one agreed way), so callers never
depend on an Axolotl signature.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

from axolotl_packing_bench.compat.internals import Internal, lazy_names

TESTED = ("0.19.0", "0.21.0")
"""The oldest and newest Axolotl release CI runs (Python 3.11 and 3.12)."""


def _internal(name: str, *locations: str) -> Internal:
    return Internal(name=name, distribution="axolotl", locations=locations, tested=TESTED, adapter="axolotl_api.py")


INTERNALS: dict[str, Internal] = {
    item.name: item
    for item in (
        # the plugin interface
        _internal("BasePlugin", "axolotl.integrations.base:BasePlugin"),
        _internal("PluginManager", "axolotl.integrations.base:PluginManager"),
        # configs
        _internal("DictDefault", "axolotl.utils.dict:DictDefault"),
        _internal("merge_input_args", "axolotl.integrations.config:merge_input_args"),
        _internal("validate_config", "axolotl.utils.config:validate_config"),
        _internal("SFTDataset", "axolotl.utils.schemas.datasets:SFTDataset"),
        _internal("load_cfg", "axolotl.cli.config:load_cfg"),
        # datasets and tokenizer
        _internal("TrainDatasetMeta", "axolotl.common.datasets:TrainDatasetMeta"),
        _internal("load_tokenizer", "axolotl.loaders:load_tokenizer", "axolotl.loaders.tokenizer:load_tokenizer"),
        _internal("prepare_datasets", "axolotl.utils.data:prepare_datasets", "axolotl.utils.data.sft:prepare_datasets"),
        _internal("datasets_with_name_generator", "axolotl.utils.data.shared:datasets_with_name_generator"),
        _internal("load_dataset_with_config", "axolotl.utils.data.shared:load_dataset_with_config"),
        _internal("merge_datasets", "axolotl.utils.data.shared:merge_datasets"),
        _internal("AlpacaPrompter", "axolotl.prompters:AlpacaPrompter"),  # `type: alpaca`, for `packbench stats`
        # the train command
        _internal("axolotl_cli", "axolotl.cli.main:cli"),
        # Axolotl's own packer (sample_packing), the packing benchmarks' reference
        _internal("pack_parallel", "axolotl.utils.samplers.multipack:pack_parallel"),
    )
}

CLI_MODULE = "axolotl.cli.main"
"""The module `python -m` runs as `axolotl` (`python -m axolotl.cli.main train CONFIG`)."""

TRAIN_MODULES = (
    CLI_MODULE,
    "axolotl.cli.train",
    "axolotl.cli.config",
    "axolotl.train",
    "axolotl.common.datasets",
    "axolotl.utils.config",
    "axolotl.utils.trainer",
    "axolotl.core.builders",
    "axolotl.loaders",
    "axolotl.cli.checks",
    "axolotl.prompt_strategies.chat_template",
)
"""What `axolotl train` imports before it trains (the warm worker preloads them; missing ones are skipped)."""

__getattr__ = lazy_names(INTERNALS, globals())


def tokenized_splits(cfg: Any, tokenizer: Any) -> tuple[Any, Any]:
    """Axolotl's tokenized `(train, eval or None)` datasets for `cfg`."""
    from axolotl_packing_bench.compat.axolotl_api import prepare_datasets

    prepared = prepare_datasets(cfg, tokenizer)  # (train, eval, total steps, prompters) in 0.19-0.21
    return prepared[0], prepared[1]


def load_source_dataset(dataset_config: Any, cfg: Any) -> Any:
    """One entry of `cfg.datasets`, loaded as Axolotl loads it (not streamed, not tokenized)."""
    from axolotl_packing_bench.compat.axolotl_api import load_dataset_with_config

    return load_dataset_with_config(dataset_config, cfg.hf_use_auth_token, streaming=False)


def register_plugin(name: str) -> bool:
    """Register plugin `name` with Axolotl's plugin manager; False when it cannot be imported."""
    from axolotl_packing_bench.compat.axolotl_api import PluginManager

    manager = PluginManager.get_instance()
    if name not in manager.plugins:
        manager.register(name)  # logs and swallows an ImportError
    return name in manager.plugins


def input_config_class() -> Any:
    """Axolotl's `AxolotlInputConfig` merged with every registered plugin's args model."""
    from axolotl_packing_bench.compat.axolotl_api import merge_input_args

    return merge_input_args()[1]  # (with capabilities, input config)


def validate(config: Mapping[str, Any]) -> Any:
    """Axolotl's own validation of a config mapping (no GPU capabilities, nothing downloaded)."""
    from axolotl_packing_bench.compat.axolotl_api import DictDefault, validate_config

    return validate_config(DictDefault(dict(config)))


@contextlib.contextmanager
def schema_built_once() -> Iterator[None]:
    """Within it, `validate` builds Axolotl's plugin-merged config classes once per set of plugins.

    Axolotl's `validate_config` calls `merge_input_args`, which builds the merged pydantic classes
    anew on every call (about 0.1 s each); the classes, and so the checks, are the same every time.
    """
    import axolotl.utils.config as config_module

    original = getattr(config_module, "merge_input_args", None)
    if original is None:  # a release that builds them elsewhere: nothing to reuse
        yield
        return
    built: dict[tuple[str, ...], Any] = {}

    def merged() -> Any:
        from axolotl_packing_bench.compat.axolotl_api import PluginManager

        key = tuple(PluginManager.get_instance().get_input_args())
        if key not in built:
            built[key] = original()
        return built[key]

    config_module.merge_input_args = merged
    try:
        yield
    finally:
        config_module.merge_input_args = original


def reset_plugin_manager() -> None:
    """Forget registered plugins (plugins register process-wide); no-op when Axolotl is not imported yet."""
    # The manager itself is kept: Axolotl's modules hold it from import time (`PLUGIN_MANAGER =
    # PluginManager.get_instance()` in axolotl.train and the loaders), so a new instance would leave their hooks
    # (pre/post_model_load, post_trainer_create, ...) calling a manager without the plugin.
    base = sys.modules.get("axolotl.integrations.base")
    manager = getattr(getattr(base, "PluginManager", None), "_instance", None) if base is not None else None
    if manager is not None:
        manager.plugins.clear()
        manager._cfg = None


def train_command(python: str, config: str, launcher: str) -> list[str]:
    """`axolotl train CONFIG --launcher LAUNCHER` through `python` (the interpreter that has Axolotl)."""
    return [python, "-m", CLI_MODULE, "train", config, "--launcher", launcher]


def run_train_cli(config: str) -> None:
    """`axolotl train CONFIG --launcher python` through Axolotl's click CLI in this process (raises SystemExit)."""
    from axolotl_packing_bench.compat.axolotl_api import axolotl_cli

    axolotl_cli.main(args=["train", config, "--launcher", "python"], prog_name="axolotl", standalone_mode=True)


def train_sampler(trainer: Any) -> Any:
    """The sampler Axolotl's trainer builds for the train split (its multipack sampler under `sample_packing`)."""
    return trainer._get_train_sampler()


def ranks_without_cuda(cfg: Any) -> bool:
    """Several processes train on a machine without CUDA (torchrun or accelerate with gloo)."""
    import torch

    return (cfg.get("world_size") or 1) > 1 and not torch.cuda.is_available()


USE_CPU_ENV = "ACCELERATE_USE_CPU"
"""Makes accelerate's `AcceleratorState` take the CPU (and so gloo across ranks) whatever it is given."""


def several_ranks_training_args(cfg: Any, environ: MutableMapping[str, str] | None = None) -> dict[str, Any]:
    """Trainer arguments that make several processes one data-parallel run; empty for one process.

    - `average_tokens_across_devices`: Axolotl turns it off. A loss divided by the trainer's count of the
      accumulated batch (`num_items_in_batch`: the plugin's `packbench_loss: sample`, or a model for which
      Axolotl keeps `model_accepts_loss_kwargs`) is then divided by each rank's own count, and DDP averages
      those means; on, the count is summed over the ranks first, as one process accumulating the ranks'
      micro batches counts it. (Axolotl 0.19 turns `model_accepts_loss_kwargs` off for Llama, so the token
      loss is each micro batch's token mean averaged over micro batches and ranks, with or without it.)
    - Without CUDA, `use_cpu` and the gloo backend, and `ACCELERATE_USE_CPU=true` in this process's
      environment (`environ`, default `os.environ`): Axolotl's trainer resets accelerate's state before
      it builds its `Accelerator` (`create_accelerator_and_postprocess`), and that `Accelerator` is built
      with `cpu=False`, so on a machine without CUDA its state comes back as `DistributedType.NO` with one
      process: no row sharding, no DDP, each rank trains every row on its own. accelerate reads the
      variable there and takes `MULTI_CPU` with the process group torchrun set up.
    """
    if (cfg.get("world_size") or 1) <= 1:
        return {}
    args: dict[str, Any] = {"average_tokens_across_devices": True}
    if ranks_without_cuda(cfg):
        (os.environ if environ is None else environ)[USE_CPU_ENV] = "true"
        args.update(use_cpu=True, ddp_backend="gloo")
    return args


def keep_ranks_on_the_cpu(cfg: Any) -> bool:
    """Place every rank's model on the CPU when several processes train on a machine without CUDA.

    For `world_size > 1` Axolotl sets `device_map = {"": LOCAL_RANK}` whatever the device, and transformers
    reads an integer as a CUDA device, so a multi-process CPU run (gloo) dies loading the model. The model
    loader has already copied the map object into its kwargs when the plugin's `pre_model_load` runs, so it
    is changed in place. Returns whether it changed anything.
    """
    device_map = cfg.get("device_map")
    if not ranks_without_cuda(cfg) or not isinstance(device_map, dict):
        return False
    changed = False
    for key, value in device_map.items():
        if isinstance(value, int) and not isinstance(value, bool):
            device_map[key] = "cpu"
            changed = True
    return changed
