"""False alarms and power of `packbench compare` on the gate matrix, with a real slowdown.

Each round trains the gate matrix (recipes/matrices/gate.yaml) as a baseline, an identical rerun
(`null`) and one candidate per slowdown factor, their repeats interleaved (base, null, x1.1, ... for
repeat 1, then repeat 2, ...) so the machine's drift hits every side. The slowdown is real: the
plugin's step callback sleeps (factor - 1) x each step's own time (`PACKBENCH_TEST_SLOWDOWN`), so
every step, and the run, lasts `factor` times as long. Each candidate is compared with the baseline
by the gate's rule (paired per-step bootstrap) and, for contrast, by the min/max rule alone (the
same files without per-step times).

    python benchmarks/gate_power.py --rounds 10 --label idle-2cpu
    python benchmarks/gate_power.py --rounds 1 --factors 1.4 --label loaded-smoke --allow-loaded
    python benchmarks/gate_power.py --rejudge leaderboard/reference/gate-2cpu --label gate-2cpu-rejudged

`--rejudge DIR` trains nothing: it judges rounds measured before by both rules, this script's own
(r<N>-base.jsonl against each r<N>-<side>.jsonl) or the earlier layout (r<N>-a.jsonl the baseline,
r<N>-b.jsonl an unchanged rerun, r<N>-s.jsonl the candidate on one thread instead of two).

Writes, under leaderboard/reference/gate-power-<label>/: r<N>-<side>.jsonl (the results),
r<N>-<side>.compare.md (the gate's report), summary.md and summary.json (false alarms and catches
per factor, for both rules, with how many runs were measured on a loaded machine). Label the
figures with the machine's state: the script says how many runs were flagged loaded.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from axolotl_packing_bench.report.compare import Limits, compare_results, parse_threshold, render_comparison  # noqa: E402
from axolotl_packing_bench.results.store import RunResult, read_results  # noqa: E402

SLOWDOWN_ENV = "PACKBENCH_TEST_SLOWDOWN"
NULL = "null"


def side_name(factor: float | None) -> str:
    return NULL if factor is None else f"x{factor:g}"


def train(packbench: str, matrix: Path, repeat: int, results: Path, runs: Path, factor: float | None) -> int:
    """`packbench run` of one more repeat of every cell into `results` (slowed down by `factor`)."""
    env = {key: value for key, value in os.environ.items() if key != SLOWDOWN_ENV}
    if factor is not None and factor > 1:
        env[SLOWDOWN_ENV] = str(factor)
    command = [
        packbench,
        "run",
        "--matrix",
        str(matrix),
        "--repeats",
        str(repeat),
        "--runs-dir",
        str(runs),
        "--results",
        str(results),
        "--leaderboard",
        str(results.with_suffix(".md")),
        "--no-validate",  # the matrix is validated once, before the first round
    ]
    return subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, check=False).returncode


def without_step_times(results: list[RunResult]) -> list[RunResult]:
    """The same results with the per-step times dropped: compare falls back to the min/max rule."""
    out = []
    for result in results:
        training = {
            key: value for key, value in (result.metrics.get("training") or {}).items() if key != "step_times_s"
        }
        out.append(replace(result, metrics={**result.metrics, "training": training}))
    return out


def judge(base: list[RunResult], cand: list[RunResult], limits: Limits) -> dict:
    gate = compare_results(base, cand, limits)
    minmax = compare_results(without_step_times(base), without_step_times(cand), limits)
    return {
        "gate_fails": gate.regressed,
        "minmax_fails": minmax.regressed,
        "problems": [f"{cell.cell_id}: {problem}" for cell in gate.cells for problem in cell.problems]
        + list(gate.refusals),
        "paired_slowdowns": {
            cell.cell_id: None if cell.steps is None else round(cell.steps.slowdown, 4) for cell in gate.cells
        },
        "report": render_comparison(gate),
    }


def realized(rounds: list[dict], side: str) -> str:
    """Each cell's paired slowdown over the rounds: what the candidate really was, whatever its nominal factor."""
    by_cell: dict[str, list[float]] = {}
    for r in rounds:
        for cell, value in (r["sides"].get(side) or {}).get("paired_slowdowns", {}).items():
            if value is not None:
                by_cell.setdefault(cell.split("__")[2] if cell.count("__") >= 3 else cell, []).append(value)
    parts = []
    for cell, values in sorted(by_cell.items()):
        parts.append(f"{cell} {statistics.median(values):+.1%} ({min(values):+.1%} to {max(values):+.1%})")
    return "; ".join(parts) or "n/a"


def summarize(
    rounds: list[dict], sides: list[str], args: argparse.Namespace, loaded: int, runs: int
) -> tuple[str, dict]:
    table = {}
    for side in sides:
        verdicts = [r["sides"][side] for r in rounds if side in r["sides"]]
        table[side] = {
            "rounds": len(verdicts),
            "gate_fails": sum(v["gate_fails"] for v in verdicts),
            "minmax_fails": sum(v["minmax_fails"] for v in verdicts),
        }
    state = f"{loaded} of {runs} runs flagged loaded" if runs else "no runs"
    lines = [
        f"# Gate power on {args.matrix.name} ({args.label})",
        "",
        f"{len(rounds)} round(s), --repeats {args.repeats}, --max-slowdown {args.max_slowdown}; machine: {state}.",
        "Each candidate is compared with its round's baseline; `null` is an identical rerun (a fail there is a false",
        "alarm). "
        + (
            "one-thread: the candidate trained on one thread instead of two (OMP_NUM_THREADS=1)."
            if "one-thread" in sides
            else "Slowdowns are real (PACKBENCH_TEST_SLOWDOWN sleeps (factor - 1) x each step's own time)."
        ),
        "gate: the paired per-step bootstrap rule; min/max: the same files judged without per-step times.",
        "",
        "| candidate | rounds | gate fails | min/max fails | paired slowdown per cell: median (range over rounds) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for side in sides:
        row = table[side]
        lines.append(
            f"| {side} | {row['rounds']} | {row['gate_fails']}/{row['rounds']} "
            f"| {row['minmax_fails']}/{row['rounds']} | {realized(rounds, side)} |"
        )
    lines.append("")
    data = {
        "label": args.label,
        "matrix": str(args.matrix),
        "repeats": args.repeats,
        "max_slowdown": args.max_slowdown,
        "runs": runs,
        "loaded_runs": loaded,
        "table": table,
        "rounds": [
            {
                "round": r["round"],
                "sides": {s: {k: v for k, v in verdict.items() if k != "report"} for s, verdict in r["sides"].items()},
            }
            for r in rounds
        ],
    }
    return "\n".join(lines), data


def rejudge(args: argparse.Namespace, limits: Limits, out: Path) -> int:
    """The gate's rule and the min/max rule on rounds measured before; trains nothing.

    Two layouts: this script's own (r<N>-base.jsonl against every other r<N>-<side>.jsonl), and the
    earlier one (r<N>-a.jsonl the baseline, b an unchanged rerun, s one thread).
    """
    own = bool(list(args.rejudge.glob("r*-base.jsonl")))
    base_name = "base" if own else "a"
    numbers = sorted(int(path.name[1:].split("-")[0]) for path in args.rejudge.glob(f"r*-{base_name}.jsonl"))
    rounds, sides = [], []
    for number in numbers:
        base = read_results(args.rejudge / f"r{number}-{base_name}.jsonl", warn=False)
        verdicts = {}
        for path in sorted(args.rejudge.glob(f"r{number}-*.jsonl")):
            side = path.stem.split("-", 1)[1]
            if side == base_name:
                continue
            name = side if own else {"b": NULL, "s": "one-thread"}.get(side, side)
            verdicts[name] = judge(base, read_results(path, warn=False), limits)
            (out / f"r{number}-{name}.compare.md").write_text(verdicts[name]["report"])
            sides += [name] if name not in sides else []
        rounds.append({"round": number, "sides": verdicts})
    sides.sort(key=lambda name: (name != NULL, name))
    every = [result for path in args.rejudge.glob("r*-*.jsonl") for result in read_results(path, warn=False)]
    loaded = sum(result.metric("runner", "load", "loaded") is True for result in every)
    text, data = summarize(rounds, sides, args, loaded, len(every))
    how = "repeats interleaved per round" if own else "not interleaved A B per repeat"
    text += f"\nRe-judged from {args.rejudge} (trained before; {how}).\n"
    (out / "summary.md").write_text(text)
    (out / "summary.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    print(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--factors", default="1.1,1.15,1.2,1.4", help="Slowdown factors, comma-separated.")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--matrix", type=Path, default=ROOT / "recipes" / "matrices" / "gate.yaml")
    parser.add_argument("--max-slowdown", default="15%")
    parser.add_argument("--label", required=True, help="Machine state and size, e.g. idle-2cpu or loaded-smoke.")
    parser.add_argument("--out", type=Path, default=None, help="Default: leaderboard/reference/gate-power-<label>.")
    parser.add_argument("--runs-root", type=Path, default=None, help="Training outputs (default: a temporary folder).")
    parser.add_argument(
        "--allow-loaded", action="store_true", help="Judge runs flagged loaded too (say so in the label)."
    )
    parser.add_argument("--packbench", default=str(Path(sys.executable).with_name("packbench")))
    parser.add_argument(
        "--rejudge", type=Path, default=None, help="Judge the rounds measured before in DIR; train nothing."
    )
    args = parser.parse_args(argv)

    factors = [float(text) for text in args.factors.split(",") if text.strip()]
    limits = Limits(max_slowdown=parse_threshold(args.max_slowdown), allow_loaded=args.allow_loaded)
    out = args.out or ROOT / "leaderboard" / "reference" / f"gate-power-{args.label}"
    out.mkdir(parents=True, exist_ok=True)
    if args.rejudge is not None:
        return rejudge(args, limits, out)
    runs_root = args.runs_root or Path(tempfile.mkdtemp(prefix="gate-power-"))
    if subprocess.run([args.packbench, "validate", "--matrix", str(args.matrix)], check=False).returncode != 0:
        return 2
    sides: list[float | None] = [None, *factors]
    names = [side_name(factor) for factor in sides]
    rounds = []
    for number in range(1, args.rounds + 1):
        files = {
            "base": out / f"r{number}-base.jsonl",
            **{side_name(f): out / f"r{number}-{side_name(f)}.jsonl" for f in sides},
        }
        for repeat in range(1, args.repeats + 1):
            for name, factor in (("base", None), *zip(names, sides, strict=True)):
                code = train(args.packbench, args.matrix, repeat, files[name], runs_root / f"r{number}-{name}", factor)
                print(f"round {number} repeat {repeat} {name}: exit {code}", flush=True)
        base = read_results(files["base"])
        verdicts = {}
        for name in names:
            verdict = judge(base, read_results(files[name]), limits)
            (out / f"r{number}-{name}.compare.md").write_text(verdict["report"])
            verdicts[name] = verdict
            print(
                f"round {number} {name}: gate {'FAIL' if verdict['gate_fails'] else 'pass'}, "
                f"min/max {'FAIL' if verdict['minmax_fails'] else 'pass'}",
                flush=True,
            )
        rounds.append({"round": number, "sides": verdicts})
    every = [result for path in out.glob("r*-*.jsonl") for result in read_results(path, warn=False)]
    loaded = sum(result.metric("runner", "load", "loaded") is True for result in every)
    text, data = summarize(rounds, names, args, loaded, len(every))
    (out / "summary.md").write_text(text)
    (out / "summary.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
