"""The verdict of a table: speed-up and held-out loss against padding, loaded timings named.

`verdict-results.jsonl` holds three tables: bfd faster and worse beyond noise,
bfd faster and equal within noise, and one whose timings were partly taken on
a loaded machine. Regenerate the golden lines after an intended change with
`PACKBENCH_UPDATE_GOLDEN=1 pytest tests/report/test_verdict.py`.
"""

from __future__ import annotations

import os

import pytest

from axolotl_packing_bench.core.intervals import Estimate
from axolotl_packing_bench.report.tables import group_tables
from axolotl_packing_bench.report.verdict import quality_word, summary_lines, verdict, verdicts
from axolotl_packing_bench.results.store import RunResult, read_results
from tests.support.helpers import GOLDEN

RESULTS = GOLDEN / "verdict-results.jsonl"
LINES = GOLDEN / "verdicts.txt"


def found() -> dict[str, object]:
    return {entry.table: entry for entry in verdicts(group_tables(read_results(RESULTS)))}


def test_matches_golden_verdicts():
    text = "".join(f"{entry.line}\n  choice: {entry.choice}\n" for entry in found().values())
    if os.environ.get("PACKBENCH_UPDATE_GOLDEN"):
        LINES.write_text(text)
    assert text == LINES.read_text()


def test_faster_and_worse_names_the_cost_and_chooses_none():
    entry = found()["synth-470 × tiny-70b"]
    # bfd steady tokens/s 1820/1840/1800 over padding 1000/1010/990: 1820 / 1000 = 1.82
    # held-out loss bfd - padding per seed: +0.530, +0.540, +0.530 -> +0.533, hw 4.303 * 0.00577 / sqrt(3) = 0.014
    assert entry.line == (
        "synth-470 × tiny-70b: bfd 1.82× faster (steady tokens/s), held-out loss +0.533 ±0.014 "
        "(worse*, 3 seeds) — timings idle"
    )
    assert entry.choice == "none: every faster strategy has a worse held-out loss beyond noise"
    assert not entry.loaded


def test_faster_and_equal_is_the_choice():
    entry = found()["synth-470 × tiny-8b"]
    assert entry.choice.startswith("bfd: 1.52× faster (steady tokens/s), held-out loss +0.003 ±")
    assert "(within noise, 3 seeds)" in entry.choice and entry.text.endswith("— timings idle")


def test_loaded_runs_are_named():
    entry = found()["synth-100 × tiny-8b"]
    assert entry.loaded
    assert entry.text.endswith("— timings loaded ⚠ (2 of 4 runs: padding seed 1, bfd seed 0; not comparable)")
    assert entry.choice.endswith("(timings loaded ⚠)")


def test_summary_section_lists_every_table():
    lines = summary_lines(list(found().values()))
    assert lines[0] == "## Verdict"
    assert "- **synth-470 × tiny-70b**: none: every faster strategy has a worse held-out loss beyond noise" in lines


def _run(strategy: str, seed: int, runtime: float, heldout: float | None) -> RunResult:
    metrics = {"training": {"runtime_s": runtime}}
    if heldout is not None:
        metrics["heldout"] = {"loss": heldout}
    return RunResult(
        run_id=f"{strategy}{seed}",
        cell_id=f"m__d__{strategy}__isolated-{seed}",
        matrix="x",
        status="ok",
        axes={"model": "m", "dataset": "d", "strategy": strategy, "attention": "isolated"},
        labels={},
        metrics=metrics,
    )


def test_one_seed_gives_no_interval_so_the_choice_is_undecided():
    (table,) = group_tables([_run("padding", 0, 10.0, 3.0), _run("bfd", 0, 5.0, 3.1)])
    entry = verdict(table)
    assert (
        entry.text
        == "bfd 2.00× faster (train time), held-out loss +0.100 (no interval, 1 seed) — machine load not measured"
    )
    assert entry.choice == (
        "undecided: bfd is 2.00× faster (train time), held-out loss +0.100 over one seed has no "
        "interval (add a seed axis)"
    )


def test_slower_strategies_are_said_slower_and_not_chosen():
    (table,) = group_tables([_run("padding", 0, 10.0, None), _run("greedy", 0, 12.5, None)])
    entry = verdict(table)
    assert entry.text.startswith("greedy 1.25× slower (train time), held-out loss not measured")
    assert entry.choice == "none: no strategy is faster than padding"


def test_tables_without_padding_or_with_only_padding():
    (no_padding,) = group_tables([_run("bfd", 0, 5.0, 3.0)])
    assert verdict(no_padding).choice == "undecided: no padding row"
    (only_padding,) = group_tables([_run("padding", 0, 5.0, 3.0)])
    assert verdict(only_padding).text.startswith("only padding ran")


@pytest.mark.parametrize(
    "estimate, word",
    [
        (Estimate(0.5, 0.1, 3), "worse*"),
        (Estimate(-0.5, 0.1, 3), "better*"),
        (Estimate(0.05, 0.1, 3), "within noise"),
        (Estimate(0.05, None, 1), "no interval"),
    ],
)
def test_quality_words(estimate, word):
    assert quality_word(estimate) == word
