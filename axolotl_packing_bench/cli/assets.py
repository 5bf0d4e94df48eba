"""`packbench assets`: build the embedded model, tokenizer and data, and show where."""

from __future__ import annotations

import click


@click.command()
@click.option("--rebuild", is_flag=True, help="Rebuild even what is already cached.")
@click.option(
    "--only",
    type=click.Choice(["models", "datasets", "tokenizer"]),
    help="Build only this kind of asset.",
)
def assets(rebuild: bool, only: str | None) -> None:
    """Build the embedded tiny models, tokenizer and synthetic datasets.

    tiny-8b and tiny-70b are pre-trained bases; the package ships them (and
    the tokenizer) built from the current recipe, so they are copied into the
    cache in seconds. --rebuild pre-trains them again (minutes on a 2-core
    CPU, with a progress bar), as happens when the recipe no longer matches
    the shipped bytes. The -init models are their random initializations.
    Everything else is built locally (no GPU, no download) under
    $PACKBENCH_HOME (default ~/.cache/axolotl-packing-bench) and reused
    afterwards. Prints
    what stands for what, where it is, and how big it is. Use the paths, or
    URIs such as packbench://model/tiny-8b, in matrices and recipes.
    """
    from axolotl_packing_bench import assets as lib
    from axolotl_packing_bench.assets.shipping import shipped_base
    from axolotl_packing_bench.assets.tokenizer import build_vocab

    rows: list[tuple[str, str, str, str, str]] = []
    if only in (None, "tokenizer"):
        path = lib.ensure_tokenizer(rebuild=rebuild)
        rows.append(
            (
                "tokenizer",
                "tokenizer",
                "Llama-3 tokenizer",
                str(path),
                f"{len(build_vocab()):,} tokens",
            )
        )
    if only in (None, "models"):
        vocab_size = len(build_vocab())
        paths = lib.ensure_models(rebuild=rebuild)
        for name, spec in lib.MODELS.items():
            path = paths[name]
            size = f"{spec.num_parameters(vocab_size):,} params"
            if spec.pretrain is not None:
                size += f", {_pretraining_note(path)}"
                if not rebuild and shipped_base(spec) is not None:
                    size += ", shipped"
            rows.append(("model", name, spec.stands_for, str(path), size))
    if only in (None, "datasets"):
        for name, spec in lib.DATASETS.items():
            path = lib.ensure_dataset(name, rebuild=rebuild)
            stats = lib.dataset_stats(path)
            size = f"{stats['samples']:,} samples, {stats['tokens']:,} tokens"
            rows.append(("dataset", name, spec.stands_for, str(path), size))
        path = lib.ensure_heldout(rebuild=rebuild)
        with open(path, encoding="utf-8") as handle:
            count = sum(1 for _ in handle)
        rows.append(
            (
                "heldout",
                "heldout",
                "held-out QA probe",
                str(path),
                f"{count:,} questions",
            )
        )
        path = lib.ensure_heldout_chats(rebuild=rebuild)
        stats = lib.dataset_stats(path)
        rows.append(
            (
                "heldout-chats",
                "heldout-chats",
                "held-out chats (held-out loss)",
                str(path),
                f"{stats['samples']:,} samples, {stats['tokens']:,} tokens",
            )
        )
    _print_table(("kind", "name", "stands for", "path", "size"), rows)


def _pretraining_note(path) -> str:
    """`pre-trained N steps (loss L, S s)` from a base's pretraining.json."""
    import json

    from axolotl_packing_bench.assets.models import PRETRAINING_FILE

    report = json.loads((path / PRETRAINING_FILE).read_text(encoding="utf-8"))
    return (
        f"pre-trained {report['recipe']['steps']:,} steps (loss {report['final_loss']:.3f}, {report['seconds']:.0f} s)"
    )


def _print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    for line in (header, tuple("-" * w for w in widths), *rows):
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
