"""YAML in and out: matrices and recipes, read and written the same way everywhere."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from axolotl_packing_bench.core.fileio import UnreadableFile, read_user_text
from axolotl_packing_bench.matrix.problems import MatrixError, Problem


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads `1e-5` as a float (YAML 1.2), as users expect."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


class _Dumper(yaml.SafeDumper):
    """SafeDumper that indents lists under their key, like Axolotl's examples."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def load_yaml_file(path: Path, *, shown_as: str | None = None) -> Any:
    """Parse a YAML file; a missing, unreadable, non-UTF-8 or malformed file raises `MatrixError`.

    Args:
        path: The file to read.
        shown_as: How to name the file in problems (default: `path`).
    """
    shown = shown_as or str(path)
    try:
        text = read_user_text(path)
    except UnreadableFile as error:
        what = "file not found" if error.what == "does not exist" else error.what
        raise MatrixError([Problem(shown, "", what, error.fix)]) from None
    return loads_yaml(text, shown)


def loads_yaml(text: str, shown_as: str) -> Any:
    """Parse YAML text; malformed YAML raises `MatrixError` naming the line."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = getattr(error, "problem", None) or "cannot be parsed"
        raise MatrixError(
            [Problem(shown_as, "", f"malformed YAML{where}: {what}", "fix the YAML syntax there")]
        ) from None


def dump_yaml(data: Any) -> str:
    """Deterministic block-style YAML, keys in insertion order."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=100)
