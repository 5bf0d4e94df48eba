"""What one matrix cell asks a cluster for: CPUs, GPUs, memory, wall time.

Derived from the cell's recipe, then overridden by the matrix's
`resources:` section:

```yaml
resources:
  default: {cpus: 4}                    # every cell
  model:                                # per value of an axis
    llama-3-70b: {gpus: 8, memory: 1000G}
  "strategy=padding": {time: 48h}       # the same, written axis=value
```

Keys of a resource entry: `cpus`, `gpus` (integers >= 0), `memory` (`64G`,
`512M`, or a number of GiB) and `time` (`90m`, `2h`, seconds). Later entries
win over earlier ones: derived, then `default`, then axis entries in file
order.

Derived from the recipe (pure, see `derive`):

| cell | gpus | cpus | memory |
| --- | --- | --- | --- |
| model size unknown or < 1B, or an embedded `packbench://` model; no DeepSpeed | 0 | 2 | 16G |
| model size 1B-29B, no DeepSpeed | 1 | 8 | 64G |
| DeepSpeed ZeRO-1/2/3, model size < 30B | 8 | 64 | 512G |
| model size >= 30B (with or without DeepSpeed) | 8 | 64 | 1024G |

DeepSpeed shards across data-parallel GPUs, so a DeepSpeed cell gets one
whole 8-GPU node; ZeRO-3 or 30B+ needs it to fit at all. The micro batch
scales the memory of CPU and single-GPU cells (activations: +4G per sample
over 4). Time is the cell's `timeout:` when it has one.

A cell of several training processes (`num_processes: N`) asks for them
the same way on every backend: a GPU cell for at least N GPUs (one per
rank), a CPU cell for at least N CPUs and N times the memory (each rank
holds the model); on one node, where its launcher starts them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from axolotl_packing_bench.assets.uri import is_asset_uri
from axolotl_packing_bench.matrix.spec import Cell, parse_duration

RESOURCE_KEYS = ("cpus", "gpus", "memory", "time")
GPUS_PER_NODE = 8


class ResourcesError(ValueError):
    """A bad `resources:` section; the message is one sentence naming the key and the fix."""


@dataclass(frozen=True)
class Resources:
    """What one cell asks for.

    Attributes:
        cpus: CPU cores.
        gpus: GPUs on one node (0: CPU only).
        memory_mb: Host memory in MiB, or None to leave it to the cluster.
        time_s: Wall-time limit in seconds, or None.
    """

    cpus: int = 2
    gpus: int = 0
    memory_mb: int | None = None
    time_s: float | None = None

    @property
    def memory(self) -> str | None:
        """Memory as Slurm writes it: `64G`, or `1500M` when not whole GiB."""
        if self.memory_mb is None:
            return None
        return f"{self.memory_mb // 1024}G" if self.memory_mb % 1024 == 0 else f"{self.memory_mb}M"

    @property
    def shape(self) -> tuple[int, int, int | None, float | None]:
        """Cells with the same shape can share one Slurm job array."""
        return (self.cpus, self.gpus, self.memory_mb, self.time_s)


def parse_size(label: str | None) -> float | None:
    """Billions of parameters from a size label (`8B` -> 8, `350M` -> 0.35); None if unknown."""
    if not label:
        return None
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMBT]?)\s*", str(label), flags=re.IGNORECASE)
    if not match:
        return None
    scale = {"": 1e-9, "K": 1e-6, "M": 1e-3, "B": 1.0, "T": 1e3}[match.group(2).upper()]
    return float(match.group(1)) * scale


def deepspeed_stage(config: Mapping[str, Any]) -> int | None:
    """The ZeRO stage of a recipe's `deepspeed:` (a path like zero3_bf16.json or a dict), or None."""
    value = config.get("deepspeed")
    if not value:
        return None
    if isinstance(value, Mapping):
        stage = (value.get("zero_optimization") or {}).get("stage")
        return int(stage) if isinstance(stage, int) else 0
    match = re.search(r"zero[_-]?([0-3])", str(value), flags=re.IGNORECASE)
    return int(match.group(1)) if match else 0


def parse_memory_mb(value: Any) -> int:
    """MiB from `64G`, `512M`, `1T` or a number of GiB; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(value)  # noqa: TRY004 - callers catch ValueError, as for parse_duration
    if isinstance(value, (int, float)):
        if value <= 0:
            raise ValueError(value)
        return int(value * 1024)
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([MGT])i?B?\s*", str(value), flags=re.IGNORECASE)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(value)
    return int(float(match.group(1)) * {"M": 1, "G": 1024, "T": 1024 * 1024}[match.group(2).upper()])


def derive(cell: Cell) -> Resources:
    """What a cell needs, from its model size label, DeepSpeed stage, micro batch and training processes."""
    size = parse_size(cell.labels.get("model_size"))
    if is_asset_uri(cell.config.get("base_model")):
        size = None  # the embedded tiny models: labelled 8B/70B for tables, trained on CPU
    stage = deepspeed_stage(cell.config)
    micro = cell.config.get("micro_batch_size")
    extra_gb = 4 * max(0, int(micro) - 4) if isinstance(micro, int) and not isinstance(micro, bool) else 0
    if stage is not None or (size is not None and size >= 30):
        gpus = GPUS_PER_NODE
        memory_gb = (128 if size is not None and size >= 30 else 64) * gpus  # 30B+: room to load the weights
    elif size is not None and size >= 1:
        gpus, memory_gb = 1, 64 + extra_gb
    else:
        gpus, memory_gb = 0, 16 + extra_gb
    processes = cell.num_processes
    if gpus:
        gpus = max(gpus, processes)  # one GPU per rank
    else:
        memory_gb *= processes  # every rank holds its own model
    return Resources(
        cpus=max(2, 8 * gpus, processes),
        gpus=gpus,
        memory_mb=memory_gb * 1024,
        time_s=cell.timeout,
    )


def _entry(value: Any, where: str) -> dict[str, Any]:
    """Validate one resource entry into `Resources` field changes."""
    if not isinstance(value, Mapping):
        raise ResourcesError(f"resources.{where} must be a mapping like {{cpus: 4, gpus: 1}}; got {value!r}")
    changes: dict[str, Any] = {}
    for key, item in value.items():
        if key not in RESOURCE_KEYS:
            raise ResourcesError(f"resources.{where}.{key} is not a resource; use one of {', '.join(RESOURCE_KEYS)}")
        if key in ("cpus", "gpus"):
            if isinstance(item, bool) or not isinstance(item, int) or item < (1 if key == "cpus" else 0):
                raise ResourcesError(
                    f"resources.{where}.{key} must be a whole number {'>= 1' if key == 'cpus' else '>= 0'}; "
                    f"got {item!r}"
                )
            changes[key] = item
        elif key == "memory":
            try:
                changes["memory_mb"] = parse_memory_mb(item)
            except ValueError:
                raise ResourcesError(
                    f"resources.{where}.memory {item!r} is not a size; write 64G, 512M or a number of GiB"
                ) from None
        else:
            try:
                changes["time_s"] = parse_duration(item)
            except ValueError:
                raise ResourcesError(
                    f"resources.{where}.time {item!r} is not a duration; write 90m, 2h or seconds"
                ) from None
    return changes


@dataclass(frozen=True)
class ResourceRules:
    """A validated `resources:` section: default changes, then (axis, label, changes) in file order."""

    default: Mapping[str, Any]
    rules: tuple[tuple[str, str, Mapping[str, Any]], ...] = ()

    def for_cell(self, cell: Cell) -> Resources:
        """Derived resources of `cell` with the default and every matching rule applied."""
        resources = replace(derive(cell), **self.default)
        for axis, label, changes in self.rules:
            if cell.axes.get(axis) == label:
                resources = replace(resources, **changes)
        return resources


def parse_resources(section: Any, axes: Mapping[str, tuple[str, ...]] | None = None) -> ResourceRules:
    """Validate a matrix's `resources:` section (None: no overrides).

    Args:
        section: The raw section.
        axes: Axis name -> value labels, to refuse rules that match nothing.

    Raises:
        ResourcesError: One sentence naming the bad key and the fix.
    """
    if section is None:
        return ResourceRules(default={})
    if not isinstance(section, Mapping):
        raise ResourcesError(
            "resources must be a mapping of default / <axis> / <axis>=<value> to {cpus, gpus, memory, time}"
        )
    default: dict[str, Any] = {}
    rules: list[tuple[str, str, Mapping[str, Any]]] = []

    def check(axis: str, label: str, where: str) -> None:
        if axes is None:
            return
        if axis not in axes:
            raise ResourcesError(f"resources.{where}: the matrix has no axis {axis!r}; use one of {', '.join(axes)}")
        if label not in axes[axis]:
            raise ResourcesError(
                f"resources.{where}: axis {axis} has no value {label!r}; use one of {', '.join(axes[axis])}"
            )

    for key, value in section.items():
        key = str(key)
        if key == "default":
            default.update(_entry(value, key))
        elif "=" in key:
            axis, _, label = (part.strip() for part in key.partition("="))
            check(axis, label, key)
            rules.append((axis, label, _entry(value, key)))
        else:
            if not isinstance(value, Mapping):
                raise ResourcesError(
                    f"resources.{key} must map values of axis {key} to resources, "
                    f"e.g. {{{key}: {{<value>: {{gpus: 8}}}}}}"
                )
            for label, entry in value.items():
                check(key, str(label), f"{key}.{label}")
                rules.append((key, str(label), _entry(entry, f"{key}.{label}")))
    return ResourceRules(default=default, rules=tuple(rules))


def matrix_resources(matrix: Any) -> ResourceRules:
    """The validated `resources:` section of a parsed `Matrix`."""
    axes = {axis.name: axis.labels() for axis in matrix.axes}
    return parse_resources(matrix.sections.get("resources"), axes)
