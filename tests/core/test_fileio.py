"""Reading a user's file plainly, and the locked read-modify-append."""

from __future__ import annotations

from pathlib import Path

import pytest

from axolotl_packing_bench.core.fileio import (
    UnreadableFile,
    append_line,
    append_line_from,
    read_lines,
    read_user_text,
)


def test_read_user_text_is_utf8_without_bom(tmp_path: Path):
    path = tmp_path / "a.yaml"
    path.write_bytes("\ufeffname: café\n".encode())
    assert read_user_text(path) == "name: café\n"


@pytest.mark.parametrize(
    ("make", "what", "fix"),
    [
        (lambda p: None, "does not exist", "check the path"),
        (lambda p: p.mkdir(), "is a directory", "pass a file"),
        (
            lambda p: p.write_bytes("name: caf\xe9\n".encode("latin-1")),
            "is not UTF-8 text (byte 0xe9 at offset 9)",
            "save it as UTF-8",
        ),
    ],
)
def test_unreadable_files_are_one_sentence(tmp_path: Path, make, what, fix):
    path = tmp_path / "m.yaml"
    make(path)
    with pytest.raises(UnreadableFile) as caught:
        read_user_text(path)
    assert str(caught.value) == f"{path} {what}; {fix}"
    assert (caught.value.what, caught.value.fix) == (what, fix)


def test_append_line_from_sees_the_lines_and_may_write_nothing(tmp_path: Path):
    path = tmp_path / "r.jsonl"
    append_line(path, "a")
    seen: list[list[str]] = []

    def build(lines: list[str]) -> str | None:
        seen.append(list(lines))
        return None if len(lines) > 1 else f"{len(lines) + 1}"

    assert append_line_from(path, build) == "2"
    assert append_line_from(path, build) is None
    assert seen == [["a"], ["a", "2"]] and read_lines(path) == ["a", "2"]


def test_append_line_from_closes_a_torn_line_first(tmp_path: Path):
    path = tmp_path / "r.jsonl"
    path.write_text("a\n{torn")
    assert append_line_from(path, lambda lines: f"after {lines}") == "after ['a']"
    assert path.read_text() == "a\n{torn\nafter ['a']\n"
