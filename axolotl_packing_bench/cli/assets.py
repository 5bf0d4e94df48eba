"""`packbench assets`: build the embedded model, tokenizer and data, and show where."""

from __future__ import annotations

import click

from axolotl_packing_bench.cli.errors import UserInputError


@click.command()
@click.option("--rebuild", is_flag=True, help="Rebuild even what is already cached.")
@click.option(
    "--only",
    type=click.Choice(["models", "datasets", "tokenizer"]),
    help="Build only this kind of asset.",
)
@click.option(
    "--model",
    "model_names",
    multiple=True,
    metavar="NAME",
    help="Build only this model (repeatable), an on-demand base such as tiny-70b-ratio included.",
)
def assets(rebuild: bool, only: str | None, model_names: tuple[str, ...]) -> None:
    """Build the embedded tiny models, tokenizer and synthetic datasets.

    tiny-8b and tiny-70b are pre-trained bases; the package ships them (and
    the tokenizer) built from the current recipe, so they are copied into the
    cache in seconds. --rebuild pre-trains them again (minutes on a 2-core
    CPU, with a progress bar), as happens when the recipe no longer matches
    the shipped bytes. The -init models are their random initializations.
    tiny-70b-ratio (the paper's 8B : 70B parameter ratio to tiny-8b) is built
    on demand only: by a matrix that uses it, or with --model tiny-70b-ratio
    (tens of minutes of pre-training on one core).
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
    unknown = [name for name in model_names if name not in lib.MODELS]
    if unknown:
        raise UserInputError(f"--model {unknown[0]!r} is not an embedded model; use one of {', '.join(lib.MODELS)}.")
    if model_names:
        only = "models"
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
        paths = lib.ensure_models(list(model_names) or None, rebuild=rebuild)
        for name, spec in lib.MODELS.items():
            size = f"{spec.num_parameters(vocab_size):,} params"
            path = paths.get(name)
            if path is None:  # an on-demand base not asked for: shown with how to build it
                if model_names:
                    continue
                path = lib.assets_root() / "models" / spec.directory_name()
                if not path.is_dir():
                    rows.append(("model", name, spec.stands_for, "(built on demand)", f"{size}, --model {name}"))
                    continue
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
