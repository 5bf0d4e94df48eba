"""Resolve a name kept at one of several `module:attribute` locations, with a clear error when none has it."""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from importlib import metadata
from typing import Any


class InternalMoved(ImportError):
    """An internal the adapter uses is at none of the places the supported releases keep it."""


@dataclass(frozen=True)
class Internal:
    """One internal name and where the supported releases keep it.

    Attributes:
        name: The name the adapter exposes.
        distribution: The pip distribution that provides it (`axolotl`, `transformers`).
        locations: `module:attribute` places to look, newest release first.
        tested: The oldest and newest release of `distribution` the locations were checked against.
        adapter: The adapter file to edit when the name moves.
    """

    name: str
    distribution: str
    locations: tuple[str, ...]
    tested: tuple[str, str]
    adapter: str


def installed_version(distribution: str) -> str:
    """The installed version of `distribution`, or "(not installed)"."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "(not installed)"


def _module_missing(error: ModuleNotFoundError, module: str) -> bool:
    """True when `module` itself (or a package above it) does not exist, not some import inside it."""
    missing = error.name or ""
    return bool(missing) and (module == missing or module.startswith(missing + "."))


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a None placeholder in sys.modules, or a broken parent
        return False


def resolve(internal: Internal) -> Any:
    """The object `internal` names, from the first of its locations that has it.

    Raises:
        ModuleNotFoundError: Its distribution is not installed (the message names the extra that installs it).
        InternalMoved: None of the locations has it (one sentence naming the
            name, the installed version and the adapter file to update).
        ImportError: A module exists but fails to import for another reason
            (a broken install); raised as it is.
    """
    for location in internal.locations:
        module_name, _, attribute = location.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if _module_missing(error, module_name):
                continue
            raise
        if hasattr(module, attribute):
            return getattr(module, attribute)
    version = installed_version(internal.distribution)
    if version == "(not installed)" or not _importable(internal.distribution):  # not moved: missing; name its extra
        from axolotl_packing_bench.core.extras import missing_message

        message = missing_message(internal.distribution) or f"No module named {internal.distribution!r}"
        raise ModuleNotFoundError(message, name=internal.distribution)
    where = " or ".join(f"{location.replace(':', '.')}" for location in internal.locations)
    oldest, newest = internal.tested
    raise InternalMoved(
        f"{internal.distribution} {version} moved `{internal.name}`: it is not at {where}, where "
        f"{internal.distribution} {oldest} to {newest} keep it; install {internal.distribution} "
        f"{oldest} to {newest}, or teach axolotl_packing_bench/compat/{internal.adapter} where this release keeps it."
    )


def lazy_names(table: dict[str, Internal], namespace: dict[str, Any]):
    """A module `__getattr__` that resolves `table`'s names on first use and caches them in `namespace`."""

    def __getattr__(name: str) -> Any:
        internal = table.get(name)
        if internal is None:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        value = resolve(internal)
        namespace[name] = value
        return value

    return __getattr__
