"""The board with cells trained by several processes: rows of one table, each against its own padding."""

from __future__ import annotations

from axolotl_packing_bench.report.leaderboard import render_leaderboard
from axolotl_packing_bench.report.tables import group_tables, processes_of
from axolotl_packing_bench.results.store import RunResult

# (strategy, processes) -> train time (s)
RUNTIMES = {("padding", 1): 40.0, ("bfd", 1): 20.0, ("padding", 2): 24.0, ("bfd", 2): 8.0}


def result(strategy: str, processes: int, *, axis: bool = True) -> RunResult:
    axes = {"model": "tiny-8b", "dataset": "synth-100", "strategy": strategy, "attention": "isolated"}
    if axis:
        axes["num_processes"] = str(processes)
    return RunResult(
        run_id=f"{strategy}{processes}",
        cell_id=f"tiny-8b__synth-100__{strategy}__isolated__num_processes={processes}-0000abcd",
        matrix="ranks",
        status="ok",
        axes=axes,
        labels={"model_size": "8B", "dataset_size": "100"},
        metrics={
            "training": {"steps": 30 // processes, "runtime_s": RUNTIMES[(strategy, processes)]},
            "processes": processes,
            "runner": {"num_processes": processes},
        },
        recorded_at="2026-12-01T00:00:00+00:00",
    )


def rows_of(text: str) -> dict[str, str]:
    return {row.split(" | ")[0].strip("| "): row for row in table_lines(text)}


def test_processes_come_from_the_axis_the_plugin_or_the_runner():
    assert processes_of(result("bfd", 2)) == 2
    assert processes_of(result("bfd", 2, axis=False)) == 2  # a top-level num_processes: what training recorded
    assert processes_of(result("bfd", 2, axis=False).replace(metrics={"runner": {"num_processes": 2}})) == 2
    assert processes_of(result("bfd", 1, axis=False).replace(metrics={})) == 1  # recorded before processes were


def test_one_table_a_row_per_process_count_each_against_the_padding_of_its_count():
    runs = [result(strategy, processes) for strategy, processes in RUNTIMES]
    (table,) = group_tables(runs)
    assert table.extras == ()  # not a table per count: the counts compare side by side
    rows = rows_of(render_leaderboard(runs))
    assert set(rows) == {"strategy", "padding", "padding (2 processes)", "bfd", "bfd (2 processes)"}
    assert "| 2.00× |" in rows["bfd"]  # 40 s / 20 s
    assert "| 3.00× |" in rows["bfd (2 processes)"]  # 24 s / 8 s, against padding on 2 processes
    header, *lines = table_lines(render_leaderboard(runs, wide=True))
    assert header.startswith("| strategy | attention | processes | steps |")
    assert sorted(tuple(line.split(" | ")[0:3:2]) for line in lines) == [
        ("| bfd", "1"),
        ("| bfd", "2"),
        ("| padding", "1"),
        ("| padding", "2"),
    ]


def table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]


def test_one_process_everywhere_shows_no_processes_column():
    runs = [result(strategy, 1) for strategy in ("padding", "bfd")]
    wide = render_leaderboard(runs, wide=True)
    assert "| strategy | attention | steps |" in wide and "processes" not in wide
