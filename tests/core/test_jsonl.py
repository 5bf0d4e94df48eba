"""`jsonl_rows`: numbered rows of a JSONL file, and one sentence for a line that is not JSON."""

from __future__ import annotations

import pytest

from axolotl_packing_bench.core.jsonl import jsonl_rows


class BadInput(Exception):
    pass


def test_rows_keep_their_line_numbers_and_skip_blank_lines():
    lines = ['{"a": 1}\n', "\n", "   \n", "[2, 3]\n"]
    assert list(jsonl_rows(lines, where="data.jsonl", error=BadInput)) == [(1, {"a": 1}), (4, [2, 3])]


def test_a_line_that_is_not_json_raises_the_callers_error_naming_file_and_line():
    rows = jsonl_rows(['{"a": 1}\n', "{oops\n"], where="data.jsonl", error=BadInput)
    assert next(rows) == (1, {"a": 1})
    with pytest.raises(
        BadInput, match=r"^line 2 of data.jsonl is not valid JSON \(.+\); write one JSON object per line"
    ):
        next(rows)
