"""`--format` and `--output`: machine-readable reports for `compare`, `leaderboard` and `status`.

Exit codes of these commands: 0 pass, 1 regression (or a stale board with
`--check`), 2 usage or input error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from axolotl_packing_bench.cli.errors import UserInputError

FORMATS = ("markdown", "json")


def format_option(function: Callable) -> Callable:
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(FORMATS),
        default="markdown",
        show_default=True,
        help="Report format: markdown for people, json for CI.",
    )(function)


def output_option(function: Callable) -> Callable:
    return click.option(
        "--output",
        "output_path",
        default=None,
        type=click.Path(path_type=Path, dir_okay=False),
        help="Write the report to this file (atomically) instead of standard output.",
    )(function)


def to_json(data: Any) -> str:
    """Indented, key-sorted JSON with a final newline (NaN and infinities never written: they become null)."""
    return json.dumps(_finite(data), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _finite(data: Any) -> Any:
    if isinstance(data, float) and (data != data or data in (float("inf"), float("-inf"))):
        return None
    if isinstance(data, dict):
        return {str(key): _finite(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [_finite(value) for value in data]
    return data


def _looks_like_results(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            first = handle.readline(65536).strip()
        data = json.loads(first)
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "run_id" in data and "schema_version" in data


def emit(text: str, output_path: Path | None) -> None:
    """Print `text`, or write it to `output_path` atomically (never over a results file)."""
    if output_path is None:
        click.echo(text, nl=False)
        return
    from axolotl_packing_bench.core.fileio import atomic_write_text

    if output_path.is_file() and _looks_like_results(output_path):
        raise UserInputError(f"--output {output_path} holds results JSONL; write the report to another file.")
    try:
        atomic_write_text(output_path, text)
    except OSError as error:
        raise UserInputError(
            f"cannot write --output {output_path} ({error.strerror or error}); choose a writable path with free space."
        ) from None
