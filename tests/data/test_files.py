"""The dataset file checker shared by `stats`, `validate` and the plugin (issue 14, defect 3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from axolotl_packing_bench.data.files import (
    DatasetFileError,
    check_dataset_entries,
    check_dataset_file,
    local_dataset_file,
    read_records,
    split_fix,
)

CHAT = {"path": "x", "ds_type": "json", "type": "chat_template", "field_messages": "messages"}
GOOD = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}


def write(path: Path, *rows: object) -> Path:
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return path


def error_of(path: Path, entry: dict | None = None) -> str:
    with pytest.raises(DatasetFileError) as caught:
        check_dataset_file(path, entry or CHAT)
    return str(caught.value)


def test_a_good_chat_file_counts_its_records(tmp_path: Path):
    assert check_dataset_file(write(tmp_path / "d.jsonl", GOOD, GOOD), CHAT) == 2
    assert check_dataset_file(tmp_path / "d.jsonl", {**CHAT, "type": "chat_template.default"}) == 2


def test_empty_file(tmp_path: Path):
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    assert error_of(path) == f"{path} is empty; write one JSON record per line, or pass another file."
    path.write_text("\n \n")
    assert error_of(path) == f"{path} is empty; write one JSON record per line, or pass another file."


def test_broken_line_names_the_line(tmp_path: Path):
    path = write(tmp_path / "d.jsonl", GOOD, '{"messages": [', GOOD)
    assert error_of(path) == (f"line 2 of {path} is not valid JSON (Expecting value); write one JSON object per line.")


def test_missing_and_not_utf8(tmp_path: Path):
    assert error_of(tmp_path / "nope.jsonl").startswith(f"dataset file {tmp_path / 'nope.jsonl'} does not exist; ")
    latin1 = tmp_path / "l.jsonl"
    latin1.write_bytes('{"messages": "caf\xe9"}\n'.encode("latin-1"))
    assert error_of(latin1) == f"{latin1} is not UTF-8 text (byte 0xe9 at offset 17); save it as UTF-8."


@pytest.mark.parametrize(
    ("row", "entry", "message"),
    [
        (
            {"conversations": []},
            CHAT,
            "line 2 of {p} has no `messages` list of turns (type chat_template reads "
            "field_messages: messages); add it, or set field_messages to the field that holds the turns.",
        ),
        (
            {"messages": [{"from": "human", "value": "hi"}]},
            CHAT,
            "line 2 of {p}: turn 0 of `messages` lacks `role` or "
            "`content`; give every turn both (or set message_property_mappings to the keys the turns use).",
        ),
        (
            {"instruction": "x"},
            {"path": "x", "type": "alpaca"},
            "line 2 of {p} has no `output` string (type alpaca reads instruction, input and output); add it.",
        ),
        (
            {"body": "x"},
            {"path": "x", "type": "completion"},
            "line 2 of {p} has no `text` string (type completion "
            "reads it); add it, or set `field` to the field that holds the text.",
        ),
        ([1, 2], CHAT, "line 2 of {p} is a JSON list, not an object; make every record a JSON object."),
    ],
)
def test_fields_the_type_needs(tmp_path: Path, row, entry, message):
    first = {"chat_template": GOOD, "alpaca": {"instruction": "a", "output": "b"}, "completion": {"text": "t"}}
    path = write(tmp_path / "d.jsonl", first[entry["type"]], row)
    assert error_of(path, entry) == message.format(p=path)


def test_mapped_keys_are_read(tmp_path: Path):
    sharegpt = {"conversations": [{"from": "human", "value": "hi"}]}
    entry = {
        **CHAT,
        "field_messages": "conversations",
        "message_property_mappings": {"role": "from", "content": "value"},
    }
    assert check_dataset_file(write(tmp_path / "d.jsonl", sharegpt), entry) == 1


def test_json_list_and_json_lines_in_a_json_file(tmp_path: Path):
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps([GOOD, {"messages": []}]))
    assert error_of(listed).startswith(f"record 2 of {listed} has no `messages` list")
    single = tmp_path / "single.json"
    single.write_text(json.dumps(GOOD))  # Axolotl's json loader reads one object as one record
    assert check_dataset_file(single, CHAT) == 1
    with pytest.raises(DatasetFileError, match="holds a JSON dict, not a list of records"):
        read_records(single)  # `stats` wants a list
    lines = write(tmp_path / "lines.json", GOOD, GOOD)
    assert check_dataset_file(lines, CHAT) == 2
    assert [where for where, _ in read_records(lines)] == [f"line 1 of {lines}", f"line 2 of {lines}"]


def test_which_entries_are_local_files(tmp_path: Path):
    file = write(tmp_path / "d.jsonl", GOOD)
    assert local_dataset_file({"path": str(file)}) == file
    assert local_dataset_file({"path": "data/missing.jsonl"}) == Path("data/missing.jsonl")
    assert local_dataset_file({"path": "allenai/tulu-v2-sft-mixture"}) is None
    assert local_dataset_file({"path": "packbench://dataset/100"}) is None
    assert local_dataset_file({"path": str(tmp_path)}) is None
    with pytest.raises(DatasetFileError, match="does not exist"):
        check_dataset_entries([{"path": "allenai/tulu"}, {**CHAT, "path": str(tmp_path / "gone.jsonl")}])


def test_split_fix():
    assert split_fix("line 2 of d.jsonl is bad (x; y); write one JSON object per line.") == (
        "line 2 of d.jsonl is bad (x; y)",
        "write one JSON object per line",
    )
