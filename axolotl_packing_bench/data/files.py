"""Local dataset files, checked before anything trains on them: one sentence naming the file and line.

`stats`, `validate` and the plugin read a user's dataset file the same way:
it exists, is readable UTF-8, is not empty, parses (a JSON list, or JSON
Lines), and every record has the fields its Axolotl dataset type reads.
Files that are not JSON (parquet, csv, arrow) are checked for existence and
size only; hub ids, directories and `packbench://` URIs are not local files.

    >>> check_dataset_entries([{"path": "data/chats.jsonl", "type": "chat_template"}])
    DatasetFileError: line 3 of data/chats.jsonl has no `messages` list of turns ...
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from axolotl_packing_bench.core.jsonl import jsonl_rows, user_text

JSON_SUFFIXES = (".json", ".jsonl")
LOCAL_SUFFIXES = (*JSON_SUFFIXES, ".parquet", ".csv", ".arrow", ".txt")
_LOCAL_PREFIXES = ("/", "./", "../", "~")


class DatasetFileError(ValueError):
    """A dataset file the user must fix; the message is one sentence naming the file (and line) and the fix."""


def split_fix(sentence: str) -> tuple[str, str]:
    """("what is wrong", "the fix") of a `DatasetFileError` sentence."""
    what, _, fix = sentence.rstrip(".").rpartition("; ")
    return (what, fix) if what else (sentence.rstrip("."), "fix the file")


def local_dataset_file(entry: Mapping[str, Any]) -> Path | None:
    """The local file an Axolotl `datasets:` entry reads, or None (hub id, directory, URI, data_files)."""
    path = entry.get("path")
    if not isinstance(path, str) or not path or "://" in path or entry.get("data_files"):
        return None
    local = Path(path).expanduser()
    if local.is_dir():
        return None
    if local.exists() or local.suffix.lower() in LOCAL_SUFFIXES or path.startswith(_LOCAL_PREFIXES):
        return local
    return None  # e.g. `allenai/tulu-v2-sft-mixture`: a hub dataset


def read_records(
    path: str | Path,
    *,
    shown: str | None = None,
    error: type[Exception] = DatasetFileError,
    json_lines: bool | None = None,
    one_object: bool = False,
) -> list[tuple[str, Any]]:
    """`(where, record)` of each record of a JSON list or JSON Lines file, in order.

    `where` is "line N of <file>" (JSON Lines) or "record N of <file>" (a JSON
    list), numbered from 1. `json_lines` None: by suffix (`.jsonl`), and a
    `.json` file that is not one JSON value is read as JSON Lines, as
    Axolotl's loader does; with `one_object`, so is a `.json` file holding
    a single JSON object (one record, as Axolotl reads it).

    Raises:
        error: Missing, unreadable, not UTF-8, empty, not JSON, or not a list.
    """
    path = Path(path)
    name = shown or str(path)
    text = user_text(path, error=error)
    if not text.strip():
        raise error(f"{name} is empty; write one JSON record per line, or pass another file.")
    lines = path.suffix.lower() == ".jsonl" if json_lines is None else json_lines
    if not lines:
        try:
            data = json.loads(text)
        except ValueError as decode_error:
            if json_lines is None and "\n" in text.strip() and text.lstrip().startswith("{"):
                lines = True  # JSON Lines in a .json file
            else:
                raise error(
                    f"{name} is not valid JSON ({decode_error.args[0]}); fix the file or save it as JSONL."
                ) from None
        else:
            if isinstance(data, dict) and one_object:
                return [(f"line 1 of {name}", data)]
            if not isinstance(data, list):
                raise error(
                    f"{name} holds a JSON {type(data).__name__}, not a list of records; "
                    "save the records as a JSON list or as JSONL."
                )
            if not data:
                raise error(f"{name} has no records; pass a non-empty dataset.")
            return [(f"record {index} of {name}", row) for index, row in enumerate(data, start=1)]
    # split on "\n" only: str.splitlines would also cut at U+2028 inside a JSON string
    records = [
        (f"line {number} of {name}", row) for number, row in jsonl_rows(text.split("\n"), where=name, error=error)
    ]
    if not records:
        raise error(f"{name} has no records; pass a non-empty dataset.")
    return records


def _message_keys(entry: Mapping[str, Any]) -> tuple[str, str]:
    mapping = entry.get("message_property_mappings") or {}
    role = mapping.get("role") or entry.get("message_field_role") or "role"
    content = mapping.get("content") or entry.get("message_field_content") or "content"
    return str(role), str(content)


def check_record(record: Any, where: str, entry: Mapping[str, Any]) -> None:
    """Raise `DatasetFileError` when `record` lacks a field its dataset type (`entry["type"]`) reads."""
    if not isinstance(record, dict):
        raise DatasetFileError(
            f"{where} is a JSON {type(record).__name__}, not an object; make every record a JSON object."
        )
    kind = entry.get("type")
    kind = kind.split(".")[0].split(":")[0] if isinstance(kind, str) else None
    if kind == "chat_template":
        field = str(entry.get("field_messages") or "messages")
        turns = record.get(field)
        if not isinstance(turns, list) or not turns:
            raise DatasetFileError(
                f"{where} has no `{field}` list of turns (type chat_template reads field_messages: {field}); "
                "add it, or set field_messages to the field that holds the turns."
            )
        role, content = _message_keys(entry)
        for index, turn in enumerate(turns):
            if not isinstance(turn, dict) or role not in turn or content not in turn:
                raise DatasetFileError(
                    f"{where}: turn {index} of `{field}` lacks `{role}` or `{content}`; give every turn both "
                    "(or set message_property_mappings to the keys the turns use)."
                )
    elif kind == "alpaca":
        missing = [key for key in ("instruction", "output") if not isinstance(record.get(key), str)]
        if missing:
            raise DatasetFileError(
                f"{where} has no {' or '.join(f'`{k}`' for k in missing)} string "
                "(type alpaca reads instruction, input and output); add it."
            )
    elif kind == "completion":
        field = str(entry.get("field") or "text")
        if not isinstance(record.get(field), str):
            raise DatasetFileError(
                f"{where} has no `{field}` string (type completion reads it); "
                "add it, or set `field` to the field that holds the text."
            )


def check_dataset_file(path: str | Path, entry: Mapping[str, Any] | None = None) -> int:
    """Check one local dataset file for its entry's type; the number of records (0: not a JSON file).

    Raises:
        DatasetFileError: The first problem, naming the file (and line) and the fix.
    """
    path = Path(path)
    entry = entry or {}
    if not path.exists():
        raise DatasetFileError(
            f"dataset file {path} does not exist; check the path (it is read from the "
            "directory you run in) or make it an absolute path."
        )
    if not path.is_file():
        raise DatasetFileError(f"dataset path {path} is not a file; pass a JSON or JSONL file, or a directory.")
    json_like = path.suffix.lower() in JSON_SUFFIXES or entry.get("ds_type") == "json"
    if not json_like:
        if path.stat().st_size == 0:
            raise DatasetFileError(f"{path} is empty; pass a dataset file with records.")
        return 0
    records = read_records(path, json_lines=None if path.suffix.lower() in JSON_SUFFIXES else True, one_object=True)
    for where, record in records:
        check_record(record, where, entry)
    return len(records)


def check_dataset_entries(entries: Iterable[Any]) -> None:
    """`check_dataset_file` for each local file of Axolotl `datasets:` entries (others are skipped)."""
    for entry in entries or []:
        if isinstance(entry, Mapping) and (path := local_dataset_file(entry)) is not None:
            check_dataset_file(path, entry)
