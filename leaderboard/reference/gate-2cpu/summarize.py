"""Summarize the gate rounds in this folder: python summarize.py > summary.md

Per round, `compare_results` of B and of S against A at --max-slowdown 15%, the gated figures
(min(candidate) / max(baseline) - 1 of the step time, and of bfd's ratio to padding), each cell's
median change, and, from the unchanged pair, the smallest slowdown of the candidate that the time
figure would have flagged: 1.15 * max(A) / min(B).
"""

from __future__ import annotations

from pathlib import Path

from axolotl_packing_bench.report.compare import Limits, compare_results, worst_slowdown
from axolotl_packing_bench.results.store import read_results

HERE = Path(__file__).parent
LIMIT = 0.15


def main() -> None:
    print(
        "| round | candidate | verdict | padding time | bfd time | bfd ÷ padding | median change (padding, bfd) "
        "| smallest flagged slowdown (padding, bfd) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    rounds = sorted(int(path.name[1:].split("-")[0]) for path in HERE.glob("r*-a.jsonl"))
    verdicts = {"b": [], "s": []}
    for number in rounds:
        baseline = read_results(HERE / f"r{number}-a.jsonl")
        for kind in ("b", "s"):
            comparison = compare_results(
                baseline, read_results(HERE / f"r{number}-{kind}.jsonl"), Limits(max_slowdown=LIMIT)
            )
            cells = {cell.cell_id.split("__")[2]: cell for cell in comparison.cells}
            pad, bfd = cells["padding"], cells["bfd"]
            change = [cell.time[1].median / cell.time[0].median for cell in (pad, bfd)]
            flagged = [(1 + LIMIT) * max(cell.time[0].readable) / min(cell.time[1].readable) for cell in (pad, bfd)]
            verdicts[kind].append(comparison.regressed)
            print(
                f"| {number} | {'B (unchanged)' if kind == 'b' else 'S (one thread)'} "
                f"| {'FAIL' if comparison.regressed else 'pass'} "
                f"| {worst_slowdown(pad.time):+.1%} | {worst_slowdown(bfd.time):+.1%} "
                f"| {worst_slowdown(bfd.ratio):+.1%} "
                f"| ×{change[0]:.2f}, ×{change[1]:.2f} "
                f"| {f'×{flagged[0]:.2f}, ×{flagged[1]:.2f}' if kind == 'b' else '—'} |"
            )
    print()
    print(
        f"B against A failed {sum(verdicts['b'])} of {len(rounds)} rounds; "
        f"S against A failed {sum(verdicts['s'])} of {len(rounds)}."
    )


if __name__ == "__main__":
    main()
