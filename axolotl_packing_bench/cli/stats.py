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
@click.argument("source", required=False)
@click.option(
    "--capacity",
    type=click.IntRange(min=1),
    default=None,
    help="Tokens per packed row (Axolotl `sequence_len`); default: the --config's sequence_len.",
)
@click.option(
    "--tokenizer",
    "tokenizer_spec",
    default=None,
    metavar="DIR|HUB_ID",
    help="Tokenizer for a chat dataset: a local directory, a hub id (where the hub is reachable) or "
    "packbench://tokenizer; default: the --config's tokenizer_config or base_model.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="An Axolotl recipe (YAML): its sequence_len, tokenizer, micro_batch_size, padding and datasets "
    "are the defaults of the other options and of SOURCE.",
)
@click.option(
    "--micro-batch-size",
    type=click.IntRange(min=1),
    default=None,
    help="Rows per micro batch, for the trainer's padding figure; default: the --config's, else Axolotl's 1.",
)
@click.option(
    "--pad-to-multiple-of",
    type=click.IntRange(min=0),
    default=None,
    help="The trainer rounds each micro batch's length up to a multiple of this (0: not at all); "
    "default: as Axolotl sets it from the --config, else 64.",
)
@click.option(
    "--strategies",
    default=None,
    metavar="NAMES",
    help="Comma-separated strategies to compare (default: every registered one).",
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Seed for shuffling strategies and the trainer's batch order [default: the --config's seed, else 0].",
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
    source: str | None,
    capacity: int | None,
    tokenizer_spec: str | None,
    config_path: Path | None,
    micro_batch_size: int | None,
    pad_to_multiple_of: int | None,
    strategies: str | None,
    seed: int | None,
    overflow: str,
    output_format: str,
) -> None:
    """Compare packing strategies on your data: rows, efficiency, time.

    SOURCE is a lengths file (.npy, or text with one integer per line), a
    chat dataset (.json or .jsonl; ShareGPT, OpenAI or Alpaca records) read
    with --tokenizer, or a packbench://dataset/... URI. Without SOURCE, the
    --config's datasets, else 100,000 synthetic SFT-like lengths, are used.
    A chat dataset's token counts are cached under $PACKBENCH_HOME, keyed by
    the file's bytes, the tokenizer and its chat template. A --config dataset
    of `type: alpaca` is counted as Axolotl's Alpaca prompt, as it trains.

    Efficiency is shown two ways: rows of full capacity (what the plan
    fills), and as the trainer computes (each micro batch padded to its
    longest row, rounded up as Axolotl does). single_turn packs single-turn
    chats only; related and unrelated group chats as the plugin does by
    default (TF-IDF of the token ids, k-means); from a lengths file, these
    have nothing to read and are skipped with a note.
    """
    from axolotl_packing_bench.cli.stats_config import (
        AXOLOTL_MICRO_BATCH,
        RecipeSettings,
        read_recipe_settings,
    )
    from axolotl_packing_bench.packing import STRATEGIES, synthetic_lengths
    from axolotl_packing_bench.packing.registry import load_entry_point_strategies

    try:
        load_entry_point_strategies()
    except ValueError as error:
        raise UserInputError(str(error)) from None
    from axolotl_packing_bench.packing.batches import AXOLOTL_PAD_MULTIPLE

    settings = read_recipe_settings(config_path) if config_path is not None else RecipeSettings()
    capacity = capacity or settings.capacity
    if capacity is None:
        raise UserInputError(
            "pass --capacity (Axolotl's sequence_len), or --config with an Axolotl recipe that sets sequence_len."
        )
    tokenizer_spec = tokenizer_spec or settings.tokenizer
    micro_batch = micro_batch_size or settings.micro_batch_size or AXOLOTL_MICRO_BATCH
    if pad_to_multiple_of is not None:
        multiple = pad_to_multiple_of or None
    else:
        multiple = settings.pad_multiple if config_path is not None else AXOLOTL_PAD_MULTIPLE
    seed = seed if seed is not None else (settings.seed or 0)
    names = _strategy_names(strategies, STRATEGIES)
    sources = [source] if source is not None else settings.datasets
    formats = [None] if source is not None else settings.formats
    if not sources:
        samples = None
        lengths = synthetic_lengths(SYNTHETIC_SAMPLES)
        origin = f"{SYNTHETIC_SAMPLES:,} synthetic lengths (lognormal 6.4/0.9, no SOURCE given)"
    else:
        samples = _read_sources(sources, tokenizer_spec, formats)
        lengths = samples.lengths
        shown = [text + (f" (as Axolotl's {kind} prompt)" if kind else "") for text, kind in zip(sources, formats)]
        origin = ", ".join(shown)
        if samples.ids is not None:
            origin += f", tokenized with {tokenizer_spec}" + (" (cached)" if samples.cached else "")

    options, notes = _strategy_options(names, samples, seed, explicit=strategies is not None)
    batches = {"micro_batch": micro_batch, "multiple": multiple}
    rows, skipped = _measure(
        lengths,
        capacity,
        [n for n in names if n in options],
        seed,
        overflow,
        options,
        explicit=strategies is not None,
        **batches,
    )
    padding = _measure(lengths, capacity, [BASELINE_STRATEGY], seed, overflow, {}, explicit=True, **batches)[0][0]
    for row in [*rows, padding]:
        row["trainer_efficiency"] = row["total_tokens"] / row["trainer_tokens"] if row["trainer_tokens"] else 0.0
    for row in rows:
        row["saved_rows_vs_padding"] = padding["num_bins"] - row["num_bins"]
        row["saved_pad_tokens_vs_padding"] = _pad_tokens(padding) - _pad_tokens(row)
        row["saved_trainer_pad_tokens_vs_padding"] = _trainer_pad_tokens(padding) - _trainer_pad_tokens(row)

    summary = {
        "source": origin,
        "num_samples": int(lengths.shape[0]),
        "input_tokens": int(lengths.sum()),
        "capacity": capacity,
        "micro_batch_size": micro_batch,
        "pad_to_multiple_of": multiple,
        "overflow": overflow,
        "seed": seed,
        "strategies": rows,
        "skipped": skipped,
        "notes": notes,
    }
    if output_format == "json":
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(_table(summary))


def _read_sources(sources: list[str], tokenizer_spec: str | None, formats: list[str | None]):
    """The samples of every source, end to end (packbench:// URIs resolved, but shown as written); `formats`:
    each source's non-chat prompt format from the recipe (`alpaca[:style]`), or None to read it as chats."""
    import numpy as np

    from axolotl_packing_bench.data.lengths import (
        LengthsInputError,
        Samples,
        read_samples,
    )

    parts = []
    for text, kind in zip(sources, formats, strict=True):
        try:
            parts.append(read_samples(Path(_resolve(text)), tokenizer_spec, prompt_format=kind))
        except LengthsInputError as error:
            raise UserInputError(str(error)) from None
    if len(parts) == 1:
        return parts[0]
    chats = all(part.ids is not None for part in parts)
    return Samples(
        lengths=np.concatenate([part.lengths for part in parts]),
        turns=np.concatenate([part.turns for part in parts]) if chats else None,
        ids=np.concatenate([part.ids for part in parts]) if chats else None,
        pad_token_id=parts[0].pad_token_id,
        cached=all(part.cached for part in parts),
    )


def _resolve(text: str) -> str:
    from axolotl_packing_bench.assets.uri import is_asset_uri

    if not is_asset_uri(text):
        return text
    from axolotl_packing_bench.assets import resolve_asset_uri

    try:
        return resolve_asset_uri(text)
    except ValueError as error:
        raise UserInputError(f"{text}: {error}") from None


def _strategy_options(names: list[str], samples, seed: int, *, explicit: bool) -> tuple[dict[str, dict], list[str]]:
    """Per-sample options of each strategy (`turns=`, `groups=`), and one note per strategy left out."""
    import inspect

    from axolotl_packing_bench.constants import DEFAULT_GROUPS_K
    from axolotl_packing_bench.packing import STRATEGIES

    options: dict[str, dict] = {}
    notes: list[str] = []
    groups = None
    for name in names:
        parameters = set(inspect.signature(STRATEGIES[name]).parameters)
        chosen: dict = {}
        if "turns" in parameters:
            if samples is None or samples.turns is None:
                notes.append(f"{name}: needs turns per chat, which a lengths file does not hold; pass a chat dataset")
                continue
            chosen["turns"] = samples.turns
        if "groups" in parameters:
            if samples is None or samples.ids is None:
                notes.append(f"{name}: needs the chats' text to group them; pass a chat dataset")
                continue
            if groups is None:
                groups = _groups(samples, seed, DEFAULT_GROUPS_K)
            if isinstance(groups, str):
                notes.append(f"{name}: {groups}")
                continue
            chosen["groups"] = groups
        options[name] = chosen
    if explicit and notes:
        raise UserInputError(f"strategy {notes[0]}, or leave it out of --strategies.")
    return options, notes


def _groups(samples, seed: int, k: int):
    """The plugin's default groups (TF-IDF of each sample's token ids, k-means; cached), or why there are none."""
    import warnings

    import numpy as np

    from axolotl_packing_bench.data.lengths_cache import cached_arrays

    def compute() -> dict:
        from axolotl_packing_bench.plugin import (
            relatedness,  # imports the plugin (Axolotl): only on a miss
        )

        offsets = np.concatenate([[0], np.cumsum(samples.lengths)])
        pad = samples.pad_token_id
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vectors = relatedness.token_tfidf_vectors(samples.ids, offsets, ignore=[] if pad is None else [pad])
            return {"groups": relatedness.cluster(vectors, k, seed=seed)}

    try:
        return cached_arrays(samples.cache_key, f"groups-k{k}-seed{seed}", compute)[0]["groups"]
    except ImportError:
        from axolotl_packing_bench.core.extras import install_hint

        return f"grouping needs scikit-learn; run {install_hint('axolotl')}"


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


def _measure(lengths, capacity, names, seed, overflow, options, *, explicit, micro_batch=1, multiple=None):
    """Plan summaries with warm timings and the trainer's padded tokens; strategies needing options are skipped."""
    import warnings

    import numpy as np

    from axolotl_packing_bench.packing import pack
    from axolotl_packing_bench.packing.batches import batch_padded_tokens, row_tokens

    rows, skipped = [], []
    for name in names:
        extra = options.get(name, {})
        try:  # warm-up: numba compiles or loads its cache once per process
            warm = {key: value[:2] for key, value in extra.items()}
            pack(np.array([1, 2], dtype=np.int64), max(capacity, 2), name, seed=seed, **warm)
        except TypeError as error:
            if explicit:
                raise UserInputError(
                    f"strategy {name!r} needs options `packbench stats` cannot give "
                    f"({error}); leave it out of --strategies."
                ) from None
            skipped.append(name)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            began = time.perf_counter()
            plan = pack(lengths, capacity, name, seed=seed, overflow=overflow, **extra)
            elapsed = time.perf_counter() - began
        trainer = batch_padded_tokens(row_tokens(plan), micro_batch, multiple=multiple, seed=seed)
        rows.append({**plan.to_dict(), "time_ms": elapsed * 1000, "trainer_tokens": trainer})
    return rows, skipped


def _pad_tokens(row: dict) -> int:
    return row["num_bins"] * row["capacity"] - row["total_tokens"]


def _trainer_pad_tokens(row: dict) -> int:
    return row["trainer_tokens"] - row["total_tokens"]


def _fewer(count: int, what: str) -> str:
    """`1,234 fewer pad tokens`, or `128 more pad tokens` when there are more."""
    return f"{count:,} fewer {what}" if count >= 0 else f"{-count:,} more {what}"


def _table(summary: dict) -> str:
    multiple = summary["pad_to_multiple_of"]
    batching = f"micro batches of {summary['micro_batch_size']}, each padded to its longest row" + (
        f" rounded up to a multiple of {multiple}" if multiple else ""
    )
    lines = [
        f"source: {summary['source']}",
        f"samples {summary['num_samples']:,} | tokens {summary['input_tokens']:,} | "
        f"capacity {summary['capacity']:,} | micro batch {summary['micro_batch_size']} | "
        f"overflow {summary['overflow']} | seed {summary['seed']}",
        "",
    ]
    header = (
        "strategy",
        "rows",
        "lower bound",
        "over LB",
        "trainer eff.",
        "full-row eff.",
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
                f"{row['trainer_efficiency']:.3%}",
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
    lines.append(f"trainer eff.: real tokens / tokens computed in {batching}, rows in a seeded shuffle")
    lines.append("full-row eff.: real tokens / (rows x capacity), as if every row were padded to capacity")
    lines.append("")
    lines.append("vs padding as the trainer runs it (in parentheses: vs rows padded to full capacity):")
    for row in summary["strategies"]:
        if row["strategy"] == BASELINE_STRATEGY:
            continue
        base = row["num_bins"] + row["saved_rows_vs_padding"]
        share = row["saved_rows_vs_padding"] / base if base else 0.0
        lines.append(
            f"  {row['strategy']}: {row['saved_rows_vs_padding']:,} fewer rows "
            f"({share:.1%}), {_fewer(row['saved_trainer_pad_tokens_vs_padding'], 'pad tokens')} "
            f"({_fewer(row['saved_pad_tokens_vs_padding'], 'vs full-capacity rows')})"
        )
    for note in summary["notes"]:
        lines.append(f"skipped {note}.")
    if summary["skipped"]:
        lines.append(f"skipped (need options): {', '.join(summary['skipped'])}")
    lines.append("time: one warm call to pack(), after numba compiled or loaded its cache")
    return "\n".join(lines)
