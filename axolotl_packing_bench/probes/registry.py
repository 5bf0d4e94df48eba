"""The probe registry: what a probe is called, which settings it takes, how it runs, which columns it shows.

A probe is one `Probe` entry; the matrix's `probes:` section, `packbench
validate` and the leaderboard all read it from here, so adding a probe is
one file, `probes/<name>.py` (or its `<name>_entry.py`), ending with::

    PROBE = Probe(
        name="mine",
        settings={"max_questions": int, "generate": bool},   # the settings schema: key -> type
        run=run,                                              # run(run_dir, settings) -> JSON-able dict, never raises
        columns=mine_columns,                                 # results -> [ProbeColumn]
    )

and one line in `BUILTIN` below (a third-party package uses the entry-point
group `packbench.probes` instead). A probe's result is stored under its name
in the cell's metrics (`metrics["mine"]`); a failed run stores `{"error": ...}`.

This module is a leaf (it imports no other part of the package, only loads a
probe module by name when asked), so every layer may use it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axolotl_packing_bench.core.text import did_you_mean

BUILTIN: dict[str, str] = {
    "reliance": "axolotl_packing_bench.probes.reliance_entry:PROBE",
}
"""Probe name -> `module:attribute` of its `Probe`, loaded on first use."""

ENTRY_POINT_GROUP = "packbench.probes"


@dataclass(frozen=True)
class ProbeColumn:
    """One leaderboard column: the fields the leaderboard's `Column` adds its formatting to (probes return these)."""

    title: str
    get: Callable[[Any], Any]
    fmt: str
    delta: str  # "pct" | "time" | "pp" | "abs" | ""
    better: str  # "low" | "high" | ""
    optional: bool = False
    note: Callable[[Any], str] | None = None


@dataclass(frozen=True)
class Probe:
    """A probe of a trained cell.

    Attributes:
        name: Its key in a matrix's `probes:` section and in a result's metrics.
        settings: The settings schema: each accepted key and its type (or tuple of types).
        run: `run(run_dir, settings)` returns the probe's JSON-able report, or
            `{"error": "..."}`, and does not raise (`run_probe` turns an exception into an error entry).
        columns: Results -> the probe's leaderboard columns (only those with data).
        summary: One line for `packbench validate` and the docs.
        table: The report as a short text table for the terminal (`packbench probe run`); None: its
            numeric figures, one per line (`report_table`).
    """

    name: str
    settings: Mapping[str, type | tuple[type, ...]]
    run: Callable[[Path, Mapping[str, Any]], dict[str, Any]]
    columns: Callable[[Iterable[Any]], list[ProbeColumn]] = field(default=lambda results: [])
    summary: str = ""
    table: Callable[[Mapping[str, Any]], str] | None = None


def report_table(report: Mapping[str, Any]) -> str:
    """A report's numeric and text leaves as a two-column markdown table (`a/b/c | value`)."""
    lines = ["| figure | value |", "| --- | ---: |"]

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key in value:
                walk(f"{prefix}/{key}" if prefix else str(key), value[key])
        elif (
            isinstance(value, (list, tuple))
            and all(isinstance(item, (int, float)) for item in value)
            and len(value) <= 4
        ):
            lines.append(f"| {prefix} | {', '.join(format(item, '.4g') for item in value)} |")
        elif isinstance(value, bool) or value is None or isinstance(value, str):
            lines.append(f"| {prefix} | {value} |")
        elif isinstance(value, (int, float)):
            lines.append(f"| {prefix} | {value:.4g} |")

    walk("", report)
    return "\n".join(lines) + "\n"


_LOADED: dict[str, Probe] = {}


def register_probe(probe: Probe) -> Probe:
    """Make `probe` known by its name (a later registration of the same name replaces it)."""
    _LOADED[probe.name] = probe
    return probe


def _entry_points() -> dict[str, str]:
    from importlib.metadata import entry_points

    return {point.name: point.value for point in entry_points(group=ENTRY_POINT_GROUP)}


def probe_names() -> list[str]:
    """Every probe name: registered, built-in and from entry points, sorted."""
    return sorted({*_LOADED, *BUILTIN, *_entry_points()})


def get_probe(name: str) -> Probe:
    """The probe called `name`.

    Raises:
        ValueError: No probe has that name (the sentence lists the valid ones).
    """
    if name not in _LOADED:
        target = BUILTIN.get(name) or _entry_points().get(name)
        if target is None:
            raise ValueError(f"unknown probe {name!r}; valid probes: {', '.join(probe_names())}")
        module, _, attribute = target.partition(":")
        register_probe(getattr(importlib.import_module(module), attribute))
    return _LOADED[name]


def _type_names(expected: type | tuple[type, ...]) -> str:
    types = expected if isinstance(expected, tuple) else (expected,)
    return " or ".join(
        {int: "a whole number", float: "a number", bool: "true or false", str: "a string"}.get(t, t.__name__)
        for t in types
    )


def _accepts(expected: type | tuple[type, ...], value: Any) -> bool:
    types = expected if isinstance(expected, tuple) else (expected,)
    if isinstance(value, bool) and bool not in types:
        return False  # YAML `true` is not a count
    if isinstance(value, int) and float in types:
        return True
    return isinstance(value, types)


def settings_problems(name: str, settings: Any) -> list[tuple[str, str, str]]:
    """What is wrong with `probes: {name: settings}`, as (dotted key, message, fix) triples; [] when fine."""
    try:
        probe = get_probe(name)
    except ValueError:
        return [
            (
                f"probes.{name}",
                f"unknown probe{did_you_mean(name, probe_names())}",
                f"use one of {', '.join(probe_names())}",
            )
        ]
    if settings is None:
        return []
    if not isinstance(settings, Mapping):
        return [
            (
                f"probes.{name}",
                "must be a mapping of settings (or empty for the defaults)",
                f"write its settings as key: value lines ({', '.join(probe.settings)})",
            )
        ]
    problems = []
    for key, value in settings.items():
        if key not in probe.settings:
            problems.append(
                (
                    f"probes.{name}.{key}",
                    f"unknown setting of the {name} probe{did_you_mean(key, probe.settings)}",
                    f"use one of {', '.join(probe.settings)}",
                )
            )
        elif value is not None and not _accepts(probe.settings[key], value):
            problems.append(
                (
                    f"probes.{name}.{key}",
                    f"is {value!r}, not {_type_names(probe.settings[key])}",
                    f"make it {_type_names(probe.settings[key])}",
                )
            )
    return problems


def run_probe(name: str, run_dir: str | Path, settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Run probe `name` on a trained cell's run directory; its report (or `{"error": ...}`). Never raises."""
    try:
        probe = get_probe(name)
    except Exception as error:  # noqa: BLE001 - a probe that cannot load is that cell's error entry
        return {"error": f"the {name} probe cannot be loaded: {error}"}
    try:
        return probe.run(Path(run_dir), dict(settings or {}))
    except Exception as error:  # noqa: BLE001 - a probe never stops a matrix
        return {"error": f"the {name} probe failed: {type(error).__name__}: {error}"}


def probe_columns(results: Iterable[Any], names: Iterable[str] | None = None) -> list[ProbeColumn]:
    """The leaderboard columns of every probe (or of `names`) that has data in `results`, in probe order."""
    results = list(results)
    columns: list[ProbeColumn] = []
    for name in names if names is not None else probe_names():
        columns += get_probe(name).columns(results)
    return columns
