"""Matrix files: a base Axolotl recipe crossed with named axes, expanded into cells.

A matrix is data (YAML), never code::

    name: smoke                      # default: the file name without .yaml
    base: base.yml                   # or an inline mapping; a path is relative to this file
    overrides: {num_epochs: 1}       # applied on top of base
    timeout: 15m                     # per cell (seconds, or 90s / 15m / 2h)
    launcher: python                 # python | accelerate | torchrun (the recipe comment, `run`)
    num_processes: 1                 # training processes per cell (default 1); more than one runs
                                     # `torchrun` unless `launcher: accelerate`; also an axis: [1, 2]
    axes:
      model:                         # name, path (local, hub id or packbench:// URI), size label;
                                     # an embedded asset's name and size default to its own (`labels`)
        - {name: tiny-8b, path: packbench://model/tiny-8b, size: 8B, settings: {}}
      dataset:                       # name, size label, Axolotl `datasets:` entries
        - name: synth-69k
          size: 69K
          datasets: [{path: packbench://dataset/synth-69k, type: chat_template}]
      strategy: [padding, greedy, native]
      attention: [isolated]          # default [isolated]
      learning_rate: [1.0e-5, 2.0e-5]  # any other Axolotl key is an axis too
    paired:
      - when: {model: tiny-70b}      # a value, or a list of values, per axis
        set: {num_epochs: 3}
      - zip: [learning_rate, micro_batch_size]   # these axes vary together
    exclude:
      - {strategy: native, attention: shared}

Expansion is a product over the axes in file order (model, dataset, strategy,
attention first), with zipped axes counted once and excluded assignments left
out. A cell's config is composed in this order, later winning: base,
overrides, model (`base_model` + settings), dataset (`datasets` + settings),
strategy/attention (`packbench_*`, `sample_packing`, the plugin), other
axes, then every matching `paired` rule in file order.

Each cell id is readable and content-addressed,
`<model>__<dataset>__<strategy>__<attention>[__key=value...]-<hash8>`, the
hash taken over the axis labels and the composed config (with URIs, before
any path is resolved). Adding an axis value therefore never renames an
existing cell; changing a setting that a cell uses does, on purpose: its old
result no longer describes it.

`num_processes` is the runner's, never an Axolotl key: a cell with N > 1
trains with `axolotl train ... --launcher torchrun -- --standalone
--nproc_per_node N` (`launcher_args`), its id changes with N, and as an
axis it is left out of the recipe.

Top-level sections for later features (`SECTIONS`: `eval`, `probes`,
`resources`) are kept, unparsed, in `Matrix.sections`; a probe's `when:` (which cells it runs on, written as
`paired.when`) is checked against the axes and kept in `Matrix.probe_when`.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axolotl_packing_bench.constants import (
    ATTENTIONS,
    BASELINE_STRATEGY,
    DEFAULT_ATTENTION,
    NATIVE,
    NATIVE_ATTENTION,
    PROCESSES_AXIS,
    sample_packing_for,
)
from axolotl_packing_bench.constants import PLUGIN_PATH as PLUGIN
from axolotl_packing_bench.core.text import did_you_mean
from axolotl_packing_bench.matrix.problems import MatrixError, Problem
from axolotl_packing_bench.matrix.yamlio import load_yaml_file

CORE_AXES = ("model", "dataset", "strategy", "attention")
LAUNCHERS = ("python", "accelerate", "torchrun")
MULTI_PROCESS_LAUNCHER = "torchrun"
"""What runs a cell of several processes when the matrix names no launcher (or `python`, which runs one)."""
STRATEGY_ORDER = (
    BASELINE_STRATEGY,
    "random",
    "greedy",
    "bfd",
    "sequential",
    NATIVE,
    "related",
    "unrelated",
    "single_turn",
)
"""Display order of strategies: padding (the baseline) first."""


RUNNER_KEYS = ("output_dir", "dataset_prepared_path")
"""Set by `packbench run` under runs/<matrix>/, never by a matrix."""

AXIS_OWNED_KEYS = {
    "base_model": "the model axis",
    "datasets": "the dataset axis",
    "sample_packing": "the strategy axis (native sets it to true)",
    "packbench_strategy": "the strategy axis",
    "packbench_attention": "the attention axis",
}

TOP_LEVEL_KEYS = (
    "name",
    "description",
    "base",
    "overrides",
    "timeout",
    "launcher",
    "num_processes",
    "plugin",
    "axes",
    "paired",
    "exclude",
)
SECTIONS = {"eval", "probes", "resources"}
"""Top-level sections kept for later features (evaluation, probes, cluster resources)."""
PROBE_WHEN = "when"
"""A setting every probe takes: run it only on the cells matching this assignment, written as `paired.when`
(`probes: {reliance: {when: {dataset: synth-1.2m-toy}}}`); without it a probe runs on every cell."""

_MODEL_KEYS = ("name", "path", "size", "settings")
_DATASET_KEYS = ("name", "size", "datasets", "settings")


@dataclass(frozen=True)
class AxisValue:
    """One value of an axis.

    Attributes:
        name: The label used in cell ids, `exclude`, `paired` and tables.
        value: The model path, the dataset entries, the strategy name, or the
            Axolotl value of a generic axis.
        size: Size label of a model or dataset ("8B", "69K").
        settings: Extra Axolotl keys of a model or dataset.
        source: Where it is written in the matrix, e.g. "axes.model[tiny-8b]".
    """

    name: str
    value: Any = None
    size: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""


@dataclass(frozen=True)
class Axis:
    """A named axis and its values, in file order."""

    name: str
    values: tuple[AxisValue, ...]

    def labels(self) -> tuple[str, ...]:
        return tuple(value.name for value in self.values)


@dataclass(frozen=True)
class PairedRule:
    """`when` these axis labels match, `set` these Axolotl keys."""

    when: Mapping[str, tuple[str, ...]]
    set: Mapping[str, Any]
    source: str


@dataclass(frozen=True)
class Matrix:
    """A parsed, structurally valid matrix file."""

    name: str
    path: Path
    base: Mapping[str, Any]
    base_file: Path | None
    overrides: Mapping[str, Any]
    axes: tuple[Axis, ...]
    paired: tuple[PairedRule, ...] = ()
    zips: tuple[tuple[str, ...], ...] = ()
    exclude: tuple[Mapping[str, tuple[str, ...]], ...] = ()
    timeout: float | None = None
    launcher: str = "python"
    num_processes: int = 1
    plugin: bool = True
    description: str = ""
    sections: Mapping[str, Any] = field(default_factory=dict)
    probe_when: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)

    def axis(self, name: str) -> Axis | None:
        return next((axis for axis in self.axes if axis.name == name), None)


@dataclass(frozen=True)
class Cell:
    """One run of the matrix: an axis assignment and its composed Axolotl config.

    Attributes:
        cell_id: Stable, content-derived id (see the module docstring).
        matrix: The matrix name.
        axes: Axis name -> value label, in axis order.
        labels: `model_size` and `dataset_size` labels (None when unknown).
        config: The Axolotl recipe without the runner's keys, URIs unresolved.
        sources: Config key -> where it came from in the matrix (for errors).
        timeout: Per-cell timeout in seconds, or None.
        launcher: Axolotl launcher for the recipe comment and the runner.
        num_processes: Training processes (ranks) the launcher starts.
    """

    cell_id: str
    matrix: str
    axes: Mapping[str, str]
    labels: Mapping[str, str | None]
    config: Mapping[str, Any]
    sources: Mapping[str, str]
    timeout: float | None = None
    launcher: str = "python"
    num_processes: int = 1


# ---------------------------------------------------------------- helpers


def _embedded_labels(kind: str, value: Any) -> tuple[str, str] | None:
    """`(name, size)` of an embedded model URI, or of a dataset axis holding one embedded dataset URI."""
    from axolotl_packing_bench.matrix.labels import dataset_labels, model_labels

    if kind == "dataset":
        if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], dict):
            return None
        value = value[0].get("path")
    from axolotl_packing_bench.assets.uri import is_asset_uri

    if not is_asset_uri(value):
        return None
    return model_labels(value) if kind == "model" else dataset_labels(value)


def strategy_sort_key(name: str) -> tuple[int, str]:
    """Sort key putting padding first, then the paper's and our strategies."""
    return (STRATEGY_ORDER.index(name), "") if name in STRATEGY_ORDER else (len(STRATEGY_ORDER), name)


def value_label(value: Any) -> str:
    """A short, stable label for an axis value (`1e-05`, `true`, `cosine`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return format(value, "g")
    if isinstance(value, (int, str)):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def sanitize(text: str, limit: int = 48) -> str:
    """Keep `[A-Za-z0-9._=+-]`, replace runs of anything else by `-`."""
    cleaned = re.sub(r"[^A-Za-z0-9._=+-]+", "-", text).strip("-.")
    return cleaned[:limit] or "x"


def canonical_json(data: Any) -> str:
    """Compact, key-sorted JSON used for content hashes."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def make_cell_id(axes: Mapping[str, str], config: Mapping[str, Any] | None = None, *, processes: int = 1) -> str:
    """`<core axis labels>__<key=value...>-<hash8>` for an axis assignment.

    `processes` other than 1 from the matrix's top-level `num_processes` (not an axis) joins both parts,
    so a cell trained on several processes never takes the result of its one-process twin.
    """
    parts = [axes[name] for name in CORE_AXES if name in axes]
    parts += [f"{name}={label}" for name, label in axes.items() if name not in CORE_AXES]
    payload: dict[str, Any] = {"axes": dict(axes), "config": config}
    if processes != 1 and PROCESSES_AXIS not in axes:
        parts.append(f"{PROCESSES_AXIS}={processes}")
        payload[PROCESSES_AXIS] = processes
    readable = "__".join(sanitize(part) for part in parts)
    digest = hashlib.sha256(canonical_json(payload).encode()).hexdigest()[:8]
    return f"{readable}-{digest}"


def process_count(value: Any) -> int | None:
    """A number of training processes (a whole number >= 1), or None when `value` is not one."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return None
    return value


def launcher_args(launcher: str, processes: int) -> list[str]:
    """What follows `--` in `axolotl train RECIPE --launcher LAUNCHER -- ...` to start `processes` ranks.

    torchrun: `--standalone --nproc_per_node N` (standalone: a free port of its own, so cells side by side
    never meet); accelerate: `--num_processes N` (its own config decides how they run). Nothing for one.
    """
    if processes <= 1 or launcher not in ("torchrun", "accelerate"):
        return []
    if launcher == "torchrun":
        return ["--standalone", "--nproc_per_node", str(processes)]
    return ["--num_processes", str(processes)]


def parse_duration(value: Any) -> float:
    """Seconds from `600`, `90s`, `15m`, `2h` or `1h30m`; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = str(value).strip().lower()
        match = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?", text)
        if not text or match is None or not any(match.groups()):
            raise ValueError(value)
        hours, minutes, secs = (float(group) if group else 0.0 for group in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    if seconds <= 0:
        raise ValueError(value)
    return seconds


# ---------------------------------------------------------------- parsing


class _Parser:
    """Collects every problem of one matrix file instead of stopping at the first."""

    def __init__(self, path: Path):
        self.path = path
        self.shown = str(path)
        self.problems: list[Problem] = []

    def problem(self, key: str, message: str, fix: str, file: str | None = None) -> None:
        self.problems.append(Problem(file or self.shown, key, message, fix))

    def mapping(self, value: Any, key: str, *, required: bool = False) -> dict[str, Any]:
        if value is None:
            if required:
                self.problem(key, "is missing", f"add a `{key}:` mapping")
            return {}
        if not isinstance(value, dict):
            self.problem(key, f"must be a mapping, got {type(value).__name__}", f"write `{key}:` as key: value lines")
            return {}
        return value

    def check_recipe_keys(self, config: Mapping[str, Any], key: str, file: str | None = None) -> None:
        for name in config:
            if not isinstance(name, str):
                self.problem(key, f"key {name!r} is not a string", "quote it or remove it", file)
            elif name in RUNNER_KEYS:
                self.problem(
                    f"{key}.{name}" if key else name,
                    "is set by `packbench run` (under runs/<matrix>/)",
                    "remove it from the matrix",
                    file,
                )
            elif name in AXIS_OWNED_KEYS:
                self.problem(
                    f"{key}.{name}" if key else name,
                    f"is set by {AXIS_OWNED_KEYS[name]}",
                    "remove it and use the axis instead",
                    file,
                )

    # ------------------------------------------------------------ sections

    def check_probes(self, section: Any) -> None:
        """`probes:` names registered probes, each with settings its schema accepts (see `probes.registry`)."""
        from axolotl_packing_bench.probes.registry import settings_problems

        if section is None:
            return
        if not isinstance(section, dict):
            self.problem(
                "probes",
                "must be a mapping of probe name to its settings",
                "write e.g. `probes: {reliance: {max_questions: 40}}`",
            )
            return
        for name, settings in section.items():
            if isinstance(settings, dict):  # `when` is the matrix's (checked with the axes), not the probe's
                settings = {key: value for key, value in settings.items() if key != PROBE_WHEN}
            for key, message, fix in settings_problems(str(name), settings):
                self.problem(key, message, fix)

    def parse_probe_when(
        self, section: Any, axes: Mapping[str, tuple[str, ...]]
    ) -> dict[str, dict[str, tuple[str, ...]]]:
        """Each probe's `when:` assignment (see `PROBE_WHEN`), checked against the axes."""
        if not isinstance(section, dict):
            return {}
        found = {}
        for name, settings in section.items():
            if isinstance(settings, dict) and PROBE_WHEN in settings:
                when = self.assignment(settings[PROBE_WHEN], f"probes.{name}.{PROBE_WHEN}", axes)
                if when is not None:
                    found[str(name)] = when
        return found

    def parse(self) -> Matrix:
        raw = load_yaml_file(self.path, shown_as=self.shown)
        if not isinstance(raw, dict):
            raise MatrixError(
                [
                    Problem(
                        self.shown,
                        "",
                        "must be a YAML mapping with `base:` and `axes:`",
                        "see recipes/matrices/smoke.yaml",
                    )
                ]
            )
        sections: dict[str, Any] = {}
        for key in raw:
            if key in SECTIONS:
                sections[key] = raw[key]
            elif key not in TOP_LEVEL_KEYS:
                hint = did_you_mean(key, (*TOP_LEVEL_KEYS, *SECTIONS))
                self.problem(str(key), f"unknown top-level key{hint}", f"use one of {', '.join(TOP_LEVEL_KEYS)}")
        self.check_probes(sections.get("probes"))

        name = raw.get("name", sanitize(self.path.stem))
        if not isinstance(name, str) or not name or sanitize(name) != name:
            self.problem("name", f"{name!r} is not a plain name", "use letters, digits, '.', '-' and '_' only")
            name = sanitize(str(name))

        base, base_file = self.parse_base(raw.get("base"))
        overrides = self.mapping(raw.get("overrides"), "overrides")
        self.check_recipe_keys(overrides, "overrides")

        timeout = None
        if raw.get("timeout") is not None:
            try:
                timeout = parse_duration(raw["timeout"])
            except ValueError:
                self.problem("timeout", f"{raw['timeout']!r} is not a duration", "write seconds (600) or 90s, 15m, 2h")
        launcher = raw.get("launcher", "python")
        if launcher not in LAUNCHERS:
            self.problem(
                "launcher",
                f"{launcher!r} is not a launcher{did_you_mean(launcher, LAUNCHERS)}",
                f"use one of {', '.join(LAUNCHERS)}",
            )
            launcher = "python"
        num_processes = self.parse_processes(raw.get(PROCESSES_AXIS, 1), PROCESSES_AXIS)
        plugin = raw.get("plugin", True)
        if not isinstance(plugin, bool):
            self.problem(
                "plugin", f"must be true or false, got {plugin!r}", "write plugin: true (the default) or plugin: false"
            )
            plugin = True
        description = raw.get("description") or ""

        axes = self.parse_axes(raw.get("axes"), plugin)
        axis_labels = {axis.name: axis.labels() for axis in axes}
        self.check_launcher_processes(raw, axes, num_processes)
        paired, zips = self.parse_paired(raw.get("paired"), axis_labels)
        exclude = self.parse_exclude(raw.get("exclude"), axis_labels)
        probe_when = self.parse_probe_when(sections.get("probes"), axis_labels)
        if self.problems:
            raise MatrixError(self.problems)
        return Matrix(
            name=name,
            path=self.path,
            base=base,
            base_file=base_file,
            overrides=overrides,
            axes=axes,
            paired=paired,
            zips=zips,
            exclude=exclude,
            timeout=timeout,
            launcher=launcher,
            num_processes=num_processes,
            plugin=plugin,
            description=str(description),
            sections=sections,
            probe_when=probe_when,
        )

    def parse_processes(self, value: Any, key: str) -> int:
        """A number of training processes, or 1 after recording the problem."""
        count = process_count(value)
        if count is None:
            self.problem(
                key,
                f"{value!r} is not a number of training processes",
                "write a whole number, 1 or more (e.g. num_processes: 2)",
            )
            return 1
        return count

    def check_launcher_processes(self, raw: Mapping[str, Any], axes: tuple[Axis, ...], processes: int) -> None:
        """`num_processes` at the top and as an axis, or several processes under the one-process launcher."""
        axis = next((axis for axis in axes if axis.name == PROCESSES_AXIS), None)
        if axis is not None and PROCESSES_AXIS in raw:
            self.problem(
                PROCESSES_AXIS,
                "is set at the top and as an axis",
                "keep one: the top-level key for every cell, or the axis to compare process counts",
            )
        counts = [processes]
        if axis is not None:
            counts += [count for value in axis.values if (count := process_count(value.value)) is not None]
        most = max(counts)
        if most > 1 and raw.get("launcher") == "python":
            self.problem(
                "launcher",
                f"python starts one training process, and num_processes asks for {most}",
                "use launcher: torchrun (or accelerate), or leave launcher out (torchrun is then used)",
            )

    def parse_base(self, value: Any) -> tuple[dict[str, Any], Path | None]:
        if value is None:
            self.problem("base", "is missing", "add `base:` with an Axolotl recipe mapping or a path to one")
            return {}, None
        if isinstance(value, str):
            base_file = (self.path.parent / value).resolve()
            shown = str(self.path.parent / value)
            try:
                loaded = load_yaml_file(base_file, shown_as=shown)
            except MatrixError as error:
                for problem in error.problems:
                    fix = (
                        "make `base:` a path relative to the matrix file, or an inline mapping"
                        if problem.message == "file not found"
                        else problem.fix
                    )
                    self.problem("base", f"{problem.file}: {problem.message}", fix)
                return {}, base_file
            if not isinstance(loaded, dict):
                self.problem("", "must hold an Axolotl recipe mapping", "write the recipe as key: value lines", shown)
                return {}, base_file
            self.check_recipe_keys(loaded, "", shown)
            return loaded, base_file
        base = self.mapping(value, "base")
        self.check_recipe_keys(base, "base")
        return base, None

    def parse_axes(self, value: Any, plugin: bool) -> tuple[Axis, ...]:
        raw_axes = self.mapping(value, "axes", required=True)
        if raw_axes and "strategy" not in raw_axes:
            self.problem(
                "axes.strategy", "is missing", "add `strategy: [padding, greedy]` (or any registered strategies)"
            )
        axes: list[Axis] = []
        for name, raw in raw_axes.items():
            key = f"axes.{name}"
            if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                self.problem(
                    key, "is not a valid axis name", "use an Axolotl key or model, dataset, strategy, attention"
                )
                continue
            if name in RUNNER_KEYS or name in AXIS_OWNED_KEYS:
                owner = AXIS_OWNED_KEYS.get(name, "`packbench run`")
                self.problem(key, f"cannot be an axis: it is set by {owner}", "remove this axis")
                continue
            if not isinstance(raw, list) or not raw:
                self.problem(key, "must be a non-empty list of values", f"write `{name}: [value, ...]`")
                continue
            parse = {"model": self.model_value, "dataset": self.dataset_value}.get(name, self.plain_value)
            values = [value for index, item in enumerate(raw) if (value := parse(name, index, item)) is not None]
            labels = [value.name for value in values]
            for label in sorted({label for label in labels if labels.count(label) > 1}):
                self.problem(key, f"value {label!r} appears twice", "give each value a distinct name")
            if name == PROCESSES_AXIS:
                for value in values:
                    self.parse_processes(value.value, key)
            if name == "strategy":
                self.check_strategies(values, plugin)
            if name == "attention":
                for value in values:
                    if value.name not in ATTENTIONS:
                        self.problem(
                            key,
                            f"unknown attention {value.name!r}{did_you_mean(value.name, ATTENTIONS)}",
                            f"use one of {', '.join(ATTENTIONS)}",
                        )
            axes.append(Axis(name, tuple(values)))
        if raw_axes and "attention" not in raw_axes:
            axes.append(
                Axis("attention", (AxisValue(DEFAULT_ATTENTION, DEFAULT_ATTENTION, source="default attention"),))
            )
        order = {name: index for index, name in enumerate(CORE_AXES)}
        return tuple(sorted(axes, key=lambda axis: order.get(axis.name, len(CORE_AXES))))

    def check_strategies(self, values: list[AxisValue], plugin: bool) -> None:
        from axolotl_packing_bench.packing.registry import known_strategies

        try:
            known = sorted(known_strategies(), key=strategy_sort_key)
        except ValueError as error:  # an installed package's strategy cannot be imported
            self.problem("axes.strategy", str(error).rstrip("."), "fix or uninstall that package")
            return
        for value in values:
            if value.name not in known:
                self.problem(
                    "axes.strategy",
                    f"unknown strategy {value.name!r}{did_you_mean(value.name, known)}",
                    f"use one of {', '.join(known)}",
                )
            elif not plugin and value.name not in (BASELINE_STRATEGY, NATIVE):
                self.problem(
                    "axes.strategy",
                    f"strategy {value.name!r} needs the packbench plugin, which `plugin: false` turns off",
                    "remove `plugin: false` or keep only padding and native",
                )

    def plain_value(self, axis: str, index: int, item: Any) -> AxisValue | None:
        if isinstance(item, (dict, list)) and axis in ("strategy", "attention"):
            self.problem(f"axes.{axis}[{index}]", "must be a name", f"write `{axis}: [name, ...]`")
            return None
        return AxisValue(value_label(item), item, source=f"axes.{axis}")

    def model_value(self, axis: str, index: int, item: Any) -> AxisValue | None:
        key = f"axes.model[{index}]"
        if isinstance(item, str):
            name, size = _embedded_labels("model", item) or (sanitize(item.rstrip("/").rsplit("/", 1)[-1]), None)
            return AxisValue(name, item, size, source=key)
        return self.entry(key, item, _MODEL_KEYS, "path", "a model path, hub id or packbench://model/... URI")

    def dataset_value(self, axis: str, index: int, item: Any) -> AxisValue | None:
        key = f"axes.dataset[{index}]"
        value = self.entry(
            key, item, _DATASET_KEYS, "datasets", "a list of Axolotl dataset entries ({path, type, ...})"
        )
        if value is not None and (
            not isinstance(value.value, list)
            or not value.value
            or not all(isinstance(entry, dict) for entry in value.value)
        ):
            self.problem(
                f"{key}.datasets",
                "must be a non-empty list of Axolotl dataset mappings",
                "write `datasets: [{path: ..., type: chat_template}]`",
            )
            return None
        return value

    def entry(self, key: str, item: Any, allowed: tuple[str, ...], value_key: str, what: str) -> AxisValue | None:
        if not isinstance(item, dict):
            self.problem(
                key, f"must be a mapping with {', '.join(allowed)}", f"write `- {{name: ..., {value_key}: ...}}`"
            )
            return None
        ok = True
        value = item.get(value_key)
        derived = _embedded_labels("model" if value_key == "path" else "dataset", value)
        if derived is not None:  # an embedded asset: name and size default to its own labels
            item = {"name": derived[0], "size": derived[1], **item}
        for extra in item:
            if extra not in allowed:
                self.problem(
                    f"{key}.{extra}",
                    f"unknown key{did_you_mean(extra, allowed)}",
                    f"use {', '.join(allowed)}; put Axolotl keys under settings",
                )
                ok = False
        name = item.get("name")
        if not isinstance(name, str) or not name or sanitize(name) != name:
            self.problem(f"{key}.name", f"{name!r} is not a plain name", "use letters, digits, '.', '-' and '_' only")
            ok = False
        if item.get(value_key) in (None, ""):
            self.problem(f"{key}.{value_key}", "is missing", f"add {what}")
            ok = False
        settings = item.get("settings") or {}
        if not isinstance(settings, dict):
            self.problem(f"{key}.settings", "must be a mapping of Axolotl keys", "write `settings: {key: value}`")
            ok = False
        else:
            self.check_recipe_keys(settings, f"{key}.settings")
        size = item.get("size")
        if not ok:
            return None
        return AxisValue(
            name, item[value_key], None if size is None else str(size), settings, source=f"{key.split('[')[0]}[{name}]"
        )

    def parse_paired(
        self, value: Any, axes: Mapping[str, tuple[str, ...]]
    ) -> tuple[tuple[PairedRule, ...], tuple[tuple[str, ...], ...]]:
        if value is None:
            return (), ()
        if not isinstance(value, list):
            self.problem(
                "paired", "must be a list of rules", "write `- when: {...}\\n  set: {...}` or `- zip: [axis, axis]`"
            )
            return (), ()
        rules: list[PairedRule] = []
        zips: list[tuple[str, ...]] = []
        zipped: set[str] = set()
        for index, rule in enumerate(value):
            key = f"paired[{index}]"
            if isinstance(rule, dict) and set(rule) == {"zip"}:
                names = rule["zip"]
                if not isinstance(names, list) or len(names) < 2 or not all(isinstance(name, str) for name in names):
                    self.problem(
                        f"{key}.zip",
                        "must list two or more axis names",
                        "write `zip: [learning_rate, micro_batch_size]`",
                    )
                    continue
                unknown = [name for name in names if name not in axes]
                if unknown:
                    self.problem(
                        f"{key}.zip",
                        f"unknown axis {unknown[0]!r}{did_you_mean(unknown[0], axes)}",
                        f"use axes of this matrix: {', '.join(axes)}",
                    )
                    continue
                if len({len(axes[name]) for name in names}) != 1:
                    self.problem(
                        f"{key}.zip",
                        "zipped axes must have the same number of values",
                        "give each zipped axis as many values as the others",
                    )
                    continue
                if zipped & set(names):
                    self.problem(f"{key}.zip", "an axis is zipped twice", "put each axis in one zip rule")
                    continue
                zipped |= set(names)
                zips.append(tuple(names))
                continue
            if not isinstance(rule, dict) or set(rule) != {"when", "set"}:
                self.problem(
                    key,
                    "must have exactly `when:` and `set:` (or only `zip:`)",
                    "write `- when: {model: name}\\n  set: {key: value}`",
                )
                continue
            when = self.assignment(rule["when"], f"{key}.when", axes)
            settings = self.mapping(rule["set"], f"{key}.set")
            self.check_recipe_keys(settings, f"{key}.set")
            if when is not None:
                rules.append(PairedRule(when, settings, f"{key}.set"))
        return tuple(rules), tuple(zips)

    def parse_exclude(
        self, value: Any, axes: Mapping[str, tuple[str, ...]]
    ) -> tuple[Mapping[str, tuple[str, ...]], ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.problem(
                "exclude", "must be a list of partial assignments", "write `- {strategy: native, attention: shared}`"
            )
            return ()
        return tuple(
            assignment
            for index, item in enumerate(value)
            if (assignment := self.assignment(item, f"exclude[{index}]", axes)) is not None
        )

    def assignment(
        self, value: Any, key: str, axes: Mapping[str, tuple[str, ...]]
    ) -> dict[str, tuple[str, ...]] | None:
        if not isinstance(value, dict) or not value:
            self.problem(key, "must be a mapping of axis: value", "write `{strategy: native}`")
            return None
        result: dict[str, tuple[str, ...]] = {}
        for axis, wanted in value.items():
            if axis not in axes:
                self.problem(
                    f"{key}.{axis}",
                    f"unknown axis{did_you_mean(axis, axes)}",
                    f"use axes of this matrix: {', '.join(axes)}",
                )
                return None
            labels = tuple(value_label(item) for item in (wanted if isinstance(wanted, list) else [wanted]))
            for label in labels:
                if label not in axes[axis]:
                    self.problem(
                        f"{key}.{axis}",
                        f"{label!r} is not a value of axis {axis}{did_you_mean(label, axes[axis])}",
                        f"use one of {', '.join(axes[axis])}",
                    )
                    return None
            result[axis] = labels
        return result


def load_matrix(path: str | Path) -> Matrix:
    """Parse and check a matrix file.

    Raises:
        MatrixError: With every problem found (file, key, message, fix).
    """
    return _Parser(Path(path)).parse()


# ---------------------------------------------------------------- expansion


def _matches(assignment: Mapping[str, tuple[str, ...]], labels: Mapping[str, str]) -> bool:
    return all(labels.get(axis) in wanted for axis, wanted in assignment.items())


def matches(assignment: Mapping[str, tuple[str, ...]], labels: Mapping[str, str]) -> bool:
    """Whether axis labels match a partial assignment (`exclude`, `paired.when`, a probe's `when:`); {} matches all."""
    return _matches(assignment, labels)


def probe_settings(matrix: Matrix) -> dict[str, dict[str, Any]]:
    """Each probe of the matrix's `probes:` section and the settings it is run with (`when:` is the matrix's)."""
    section = matrix.sections.get("probes") or {}
    return {
        str(name): {key: value for key, value in (settings or {}).items() if key != PROBE_WHEN}
        for name, settings in section.items()
    }


def _dimensions(matrix: Matrix) -> list[list[dict[str, AxisValue]]]:
    zip_of = {name: names for names in matrix.zips for name in names}
    dims: list[list[dict[str, AxisValue]]] = []
    seen: set[tuple[str, ...]] = set()
    for axis in matrix.axes:
        names = zip_of.get(axis.name)
        if names is None:
            dims.append([{axis.name: value} for value in axis.values])
        elif names not in seen:  # a zip group is one dimension, placed at its first axis
            seen.add(names)
            members = [matrix.axis(name) for name in names]
            dims.append([{member.name: member.values[i] for member in members} for i in range(len(axis.values))])
    return dims


def compose(matrix: Matrix, chosen: Mapping[str, AxisValue]) -> tuple[dict[str, Any], dict[str, str]]:
    """The Axolotl config of one axis assignment, and where each key came from."""
    config: dict[str, Any] = {}
    sources: dict[str, str] = {}

    def put(mapping: Mapping[str, Any], source: str) -> None:
        for key, value in mapping.items():
            config[key] = copy.deepcopy(value)
            sources[key] = source

    base_source = str(matrix.base_file) if matrix.base_file else "base"
    put(matrix.base, base_source)
    put(matrix.overrides, "overrides")
    if (model := chosen.get("model")) is not None:
        put({"base_model": model.value}, model.source)
        put(model.settings, f"{model.source}.settings")
    if (dataset := chosen.get("dataset")) is not None:
        put({"datasets": dataset.value}, dataset.source)
        put(dataset.settings, f"{dataset.source}.settings")
    strategy = chosen["strategy"].name
    attention = chosen["attention"].name
    if matrix.plugin:
        plugins = [name for name in config.get("plugins") or [] if name != PLUGIN]
        put(
            {"plugins": [*plugins, PLUGIN], "packbench_strategy": strategy, "packbench_attention": attention},
            "axes.strategy",
        )
    put({"sample_packing": sample_packing_for(strategy)}, "axes.strategy")
    for name, value in chosen.items():
        if name not in CORE_AXES and name != PROCESSES_AXIS:  # the runner's key, not Axolotl's
            put({name: value.value}, f"axes.{name}")
    labels = {name: value.name for name, value in chosen.items()}
    for rule in matrix.paired:
        if _matches(rule.when, labels):
            put(rule.set, rule.source)
    return config, sources


def expand(matrix: Matrix) -> list[Cell]:
    """Every cell of the matrix, in product order (first axis varies slowest).

    Raises:
        MatrixError: A cell combines settings that cannot run (native with
            shared attention), or every cell is excluded.
    """
    cells: list[Cell] = []
    problems: list[Problem] = []
    for combo in itertools.product(*_dimensions(matrix)):
        chosen: dict[str, AxisValue] = {}
        for part in combo:
            chosen.update(part)
        chosen = {axis.name: chosen[axis.name] for axis in matrix.axes}
        labels = {name: value.name for name, value in chosen.items()}
        if any(_matches(rule, labels) for rule in matrix.exclude):
            continue
        if labels["strategy"] == NATIVE and labels["attention"] != NATIVE_ATTENTION:
            problems.append(
                Problem(
                    str(matrix.path),
                    "exclude",
                    f"strategy native with attention {labels['attention']} cannot run: Axolotl's sample_packing always "
                    "isolates segments",
                    f"add `- {{strategy: native, attention: {labels['attention']}}}` to exclude",
                )
            )
            continue
        config, sources = compose(matrix, chosen)
        model, dataset = chosen.get("model"), chosen.get("dataset")
        processes = int(chosen[PROCESSES_AXIS].value) if PROCESSES_AXIS in chosen else matrix.num_processes
        launcher = MULTI_PROCESS_LAUNCHER if processes > 1 and matrix.launcher == "python" else matrix.launcher
        cells.append(
            Cell(
                cell_id=make_cell_id(labels, config, processes=processes),
                matrix=matrix.name,
                axes=labels,
                labels={"model_size": model.size if model else None, "dataset_size": dataset.size if dataset else None},
                config=config,
                sources=sources,
                timeout=matrix.timeout,
                launcher=launcher,
                num_processes=processes,
            )
        )
    if not cells and not problems:
        problems.append(
            Problem(str(matrix.path), "exclude", "every cell is excluded", "remove or narrow an exclude rule")
        )
    if problems:
        raise MatrixError(problems[:1])
    return cells


def select(cells: Iterable[Cell], patterns: Iterable[str]) -> list[Cell]:
    """Cells matching any pattern: a glob on the cell id, or `axis=value` (value may be a glob).

    No patterns selects every cell.
    """
    from fnmatch import fnmatchcase

    patterns = [pattern for pattern in patterns if pattern]
    if not patterns:
        return list(cells)

    def hit(cell: Cell, pattern: str) -> bool:
        if "=" in pattern and not pattern.startswith("*"):
            axis, _, wanted = pattern.partition("=")
            if axis in cell.axes:
                return fnmatchcase(cell.axes[axis], wanted)
        return fnmatchcase(cell.cell_id, pattern)

    return [cell for cell in cells if any(hit(cell, pattern) for pattern in patterns)]
