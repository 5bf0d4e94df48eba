"""`packbench stats`: what each packing strategy would do to your data."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from axolotl_packing_bench.cli.errors import UserInputError
from axolotl_packing_bench.constants import BASELINE_STRATEGY

# Kept light: numpy/numba load inside the command, so `packbench --help` is fast.
# The choices mirror packing.OVERFLOW_POLICIES (a test keeps them in sync).
_OVERFLOW_CHOICES = ("truncate", "drop", "split")
SYNTHETIC_SAMPLES = 100_000


@click.command()
@click.argument("source", required=False, type=click.Path(path_type=Path))
@click.option(
    "--capacity",
    type=click.IntRange(min=1),
    required=True,
    help="Tokens per packed row (Axolotl `sequence_len`).",
)
@click.option(
    "--tokenizer",
    "tokenizer_dir",
    type=click.Path(path_type=Path),
    help="Local tokenizer directory; needed when SOURCE is a chat dataset.",
)
@click.option(
    "--strategies",
    default=None,
    metavar="NAMES",
    help="Comma-separated strategies to compare (default: every registered one).",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed for shuffling strategies."
)
@click.option(
    "--overflow",
    type=click.Choice(_OVERFLOW_CHOICES),
    default="truncate",
    show_default=True,
    help="What to do with samples longer than --capacity.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(("table", "json")),
    default="table",
    show_default=True,
    help="Output format.",
)
def stats(
    source: Path | None,
    capacity: int,
    tokenizer_dir: Path | None,
    strategies: str | None,
    seed: int,
    overflow: str,
    output_format: str,
) -> None:
    """Compare packing strategies on your data: rows, efficiency, time.

    SOURCE is a lengths file (.npy, or text with one integer per line) or a
    chat dataset (.json or .jsonl; ShareGPT, OpenAI or Alpaca records) read
    with --tokenizer. Without SOURCE, 100,000 synthetic SFT-like lengths are
    used.
    """
    from axolotl_packing_bench.data.lengths import (
        DATASET_SUFFIXES,
        LengthsInputError,
        read_lengths,
    )
    from axolotl_packing_bench.packing import STRATEGIES, synthetic_lengths
    from axolotl_packing_bench.packing.registry import load_entry_point_strategies

    try:
        load_entry_point_strategies()
    except ValueError as error:
        raise UserInputError(str(error)) from None
    names = _strategy_names(strategies, STRATEGIES)
    if source is None:
        lengths = synthetic_lengths(SYNTHETIC_SAMPLES)
        origin = f"{SYNTHETIC_SAMPLES:,} synthetic lengths (lognormal 6.4/0.9, no SOURCE given)"
    else:
        try:
            lengths = read_lengths(source, tokenizer_dir)
        except LengthsInputError as error:
            raise UserInputError(str(error)) from None
        origin = str(source)
        if tokenizer_dir is not None and source.suffix.lower() in DATASET_SUFFIXES:
            origin += f", tokenized with {tokenizer_dir}"

    rows, skipped = _measure(
        lengths, capacity, names, seed, overflow, explicit=strategies is not None
    )
    padding = _measure(lengths, capacity, [BASELINE_STRATEGY], seed, overflow, explicit=True)[0][0]
    for row in rows:
        row["saved_rows_vs_padding"] = padding["num_bins"] - row["num_bins"]
        row["saved_pad_tokens_vs_padding"] = _pad_tokens(padding) - _pad_tokens(row)

    summary = {
        "source": origin,
        "num_samples": int(lengths.shape[0]),
        "input_tokens": int(lengths.sum()),
        "capacity": capacity,
        "overflow": overflow,
        "seed": seed,
        "strategies": rows,
        "skipped": skipped,
    }
    if output_format == "json":
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(_table(summary))


def _strategy_names(option: str | None, registry: dict) -> list[str]:
    if option is None:  # in the display order every table uses: the baseline first
        from axolotl_packing_bench.matrix.spec import strategy_sort_key

        return sorted(registry, key=strategy_sort_key)
    names = [name.strip() for name in option.split(",") if name.strip()]
    unknown = [name for name in names if name not in registry]
    if unknown or not names:
        raise UserInputError(
            f"unknown strategy {', '.join(map(repr, unknown)) or repr(option)} in "
            f"--strategies; choose from: {', '.join(sorted(registry))}."
        )
    return list(dict.fromkeys(names))


def _measure(lengths, capacity, names, seed, overflow, *, explicit):
    """Plan summaries with warm timings; strategies needing options are skipped."""
    import numpy as np

    from axolotl_packing_bench.packing import pack

    rows, skipped = [], []
    for name in names:
        try:  # warm-up: numba compiles or loads its cache once per process
            pack(np.array([1, 2], dtype=np.int64), max(capacity, 2), name, seed=seed)
        except TypeError as error:
            if explicit:
                raise UserInputError(
                    f"strategy {name!r} needs options `packbench stats` cannot give "
                    f"({error}); leave it out of --strategies."
                ) from None
            skipped.append(name)
            continue
        began = time.perf_counter()
        plan = pack(lengths, capacity, name, seed=seed, overflow=overflow)
        elapsed = time.perf_counter() - began
        rows.append({**plan.to_dict(), "time_ms": elapsed * 1000})
    return rows, skipped


def _pad_tokens(row: dict) -> int:
    return row["num_bins"] * row["capacity"] - row["total_tokens"]


def _table(summary: dict) -> str:
    lines = [
        f"source: {summary['source']}",
        f"samples {summary['num_samples']:,} | tokens {summary['input_tokens']:,} | "
        f"capacity {summary['capacity']:,} | overflow {summary['overflow']} | "
        f"seed {summary['seed']}",
        "",
    ]
    header = (
        "strategy",
        "rows",
        "lower bound",
        "over LB",
        "efficiency",
        "truncated",
        "split",
        "dropped",
        "dropped tok",
        "time ms",
    )
    table = [header]
    for row in summary["strategies"]:
        table.append(
            (
                row["strategy"],
                f"{row['num_bins']:,}",
                f"{row['lower_bound']:,}",
                f"{row['over_lower_bound']:+.3%}",
                f"{row['efficiency']:.3%}",
                f"{row['num_truncated']:,}",
                f"{row['num_split']:,}",
                f"{row['num_dropped_empty'] + row['num_dropped_overlong']:,}",
                f"{row['num_dropped_tokens']:,}",
                f"{row['time_ms']:.1f}",
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for r in table:
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
    lines.append("")
    lines.append("vs padding (each sample alone in a row of full capacity):")
    for row in summary["strategies"]:
        if row["strategy"] == BASELINE_STRATEGY:
            continue
        base = row["num_bins"] + row["saved_rows_vs_padding"]
        share = row["saved_rows_vs_padding"] / base if base else 0.0
        lines.append(
            f"  {row['strategy']}: {row['saved_rows_vs_padding']:,} fewer rows "
            f"({share:.1%}), {row['saved_pad_tokens_vs_padding']:,} fewer pad tokens"
        )
    if summary["skipped"]:
        lines.append(f"skipped (need options): {', '.join(summary['skipped'])}")
    lines.append("time: one warm call to pack(), after numba compiled or loaded its cache")
    return "\n".join(lines)
