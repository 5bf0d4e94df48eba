"""Leaderboard rendering from hand-written results (golden markdown).

Regenerate after an intended change with
`PACKBENCH_UPDATE_GOLDEN=1 pytest tests/report/test_leaderboard.py`.
"""

from __future__ import annotations

import os
import random

import pytest

from axolotl_packing_bench.report.leaderboard import render_leaderboard
from axolotl_packing_bench.results.store import RunResult, read_results
from tests.support.helpers import GOLDEN

RESULTS = GOLDEN / "results.jsonl"
MARKDOWN = GOLDEN / "LEADERBOARD.md"
WIDE = GOLDEN / "LEADERBOARD-wide.md"


def render(*, wide: bool = False) -> str:
    return render_leaderboard(read_results(RESULTS), source="results.jsonl", wide=wide)


@pytest.mark.parametrize("wide, golden", [(False, MARKDOWN), (True, WIDE)], ids=["narrow", "wide"])
def test_matches_golden_markdown(wide, golden):
    text = render(wide=wide)
    if os.environ.get("PACKBENCH_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


def test_default_board_fits_120_columns_and_wide_keeps_every_column():
    narrow = [line for line in render().splitlines() if line.startswith("| ") and "Failed" not in line]
    tables = [line for line in narrow if not line.startswith(("| paper |", "| smoke |", "| matrix |"))]
    assert tables and max(len(line) for line in tables) <= 120
    assert max(len(line) for line in render().splitlines()) <= 120  # prose and verdicts wrap to fit too
    assert (
        "| strategy | steps | speed-up (time) | efficiency | judge: win_rate | score: gsm8k | score: mmlu "
        "| leakage | machine |"
    ) in tables  # the matrix's own scores decide too; no held-out loss measured, no column
    wide = render(wide=True)
    assert "| train time (s) | samples/s |" in wide and "train time (s)" not in render()
    assert "--wide" in render().split("## ")[0]


def test_tables_carry_the_machine_column_even_unmeasured():
    rows = [line for line in render().splitlines() if line.startswith("| greedy (shared) |")]
    assert rows and rows[0].endswith("| 0.512 ✗ | — |")  # no load measured (a hand-written result): a dash


def test_each_table_is_headed_by_its_verdict():
    table = render().split("### wildchat-gpt4 (69K) × llama-3-8b (8B)")[1].split("###")[0]
    verdict_line = next(line for line in table.splitlines() if line.startswith("**Verdict:**"))
    assert verdict_line == (
        "**Verdict:** greedy (shared) 3.86× faster (train time), held-out loss not measured — machine load not measured"
    )


def test_rendering_does_not_depend_on_line_order():
    rows = read_results(RESULTS)
    shuffled = rows[:]
    random.Random(3).shuffle(shuffled)
    # shuffling changes which line is latest only for repeated cells; there are none here
    assert render_leaderboard(shuffled, source="results.jsonl") == render()


def test_layout_of_a_wide_table():
    text = render(wide=True)
    table = text.split("### wildchat-gpt4 (69K) × llama-3-8b (8B)")[1].split("###")[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    header, padding, random_row, greedy = rows
    assert header.startswith("| strategy | attention | steps | train time (s) |")
    assert "score: gsm8k" in header and "score: mmlu" in header and "judge: win_rate" in header
    assert padding.startswith("| padding | shared | 34,500 | 1,188.8 |")  # the baseline has no deltas
    assert "(−63%, 2.67×)" in random_row  # 445.3 s vs 1188.8 s
    assert "**308.3** (−74%, 3.86×)" in greedy  # best time in bold
    assert "**99.8%** (+58.6 pp)" not in greedy and "(+58.6 pp)" in greedy  # random's 100% is best
    assert "**100.0%** (+58.8 pp)" in random_row
    assert "**0.951**" in padding and "1.012 (+0.061)" in greedy  # lowest loss wins
    assert "0.512 ✗" in greedy


def test_failed_cells_are_listed_with_reasons():
    text = render()
    failed = text.split("## Failed cells")[1]
    assert "- smoke · `tiny-8b__synth-200__bfd__isolated__learning_rate=0.001-0000abcd` · failed\n" in failed
    assert "  - training exited with status 1: RuntimeError: a | pipe in the message\n" in failed  # a list: no escape
    assert "· timeout\n  - timed out after 2h00m00s" in failed
    assert "  - log: `runs/paper/llama-3-70b__wildchat-gpt4__greedy__isolated-0000abcd/train.log`" in failed
    assert max(len(line) for line in failed.splitlines()) <= 120


def test_latest_result_of_a_cell_wins():
    rows = read_results(RESULTS)
    padding = next(r for r in rows if r.run_id == "p8")
    rerun = padding.replace(run_id="p8-again", status="failed", reason="boom")
    text = render_leaderboard([*rows, rerun])
    assert "| padding | shared | 34,500" not in text
    assert "boom" in text


def test_empty_results():
    text = render_leaderboard([])
    assert "No successful runs yet" in text and "Failed cells" not in text


def test_header_names_hardware_and_versions():
    header = render().split("## ")[0]
    assert "- Hardware: Test CPU (2 CPU cores), 16.0 GiB RAM, no GPU" in header
    assert (
        "- Software: axolotl 0.19.0, torch 2.13.0+cpu, transformers 5.16.1, python 3.11.7, axolotl_packing_bench 0.1.0"
        in header
    )


def test_several_environments_are_named_per_table():
    rows = read_results(RESULTS)
    other = rows[0].replace(
        run_id="gpu", cell_id="x", metrics={**rows[0].metrics, "hardware": {"gpu": "NVIDIA H100", "gpu_count": 8}}
    )
    text = render_leaderboard([*rows, other])
    assert "Results come from several environments" in text
    assert "8 × NVIDIA H100" in text
    assert isinstance(other, RunResult)
