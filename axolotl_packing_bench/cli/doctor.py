"""`packbench doctor`: check packed attention's isolation and speed on this machine (torch + transformers only)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import click

from axolotl_packing_bench.cli.errors import UserInputError

DTYPES = ("bfloat16", "float16", "float32")


@click.command()
@click.option(
    "--device",
    type=click.Choice(("auto", "cuda", "cpu")),
    default="auto",
    show_default=True,
    help="Where to run: auto is CUDA when torch sees a GPU, else the CPU.",
)
@click.option(
    "--shape",
    "preset",
    type=click.Choice(("auto", "gpu", "cpu")),
    default="auto",
    show_default=True,
    help="Model preset: gpu is ~1.1B parameters in bf16 with rows of 4,096 tokens; cpu a tiny fp32 "
    "model with rows of 512. auto follows the device.",
)
@click.option("--hidden", type=click.IntRange(min=8), help="Override the preset's hidden size.")
@click.option("--layers", type=click.IntRange(min=1), help="Override the preset's number of layers.")
@click.option("--heads", type=click.IntRange(min=1), help="Override the preset's attention heads.")
@click.option("--kv-heads", type=click.IntRange(min=1), help="Override the preset's key/value heads.")
@click.option("--intermediate", type=click.IntRange(min=1), help="Override the preset's MLP size.")
@click.option("--row-tokens", type=click.IntRange(min=16), help="Override the preset's packed row length.")
@click.option("--dtype", type=click.Choice(DTYPES), help="Override the preset's dtype.")
@click.option(
    "--isolation-rows",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Packed rows whose every segment is checked against itself alone (those with most segments).",
)
@click.option("--warmup", type=click.IntRange(min=0), default=2, show_default=True, help="Untimed steps per path.")
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Timed forward + backward steps per path (the median is reported).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the weights and token ids.")
@click.option(
    "--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the findings as JSON here."
)
@click.option(
    "--markdown",
    "markdown_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the markdown table here (it is printed either way).",
)
@click.option(
    "--inject-leak",
    is_flag=True,
    hidden=True,
    help="Also check sdpa given an all-ones 2-D mask, a path that leaks: the check must fail.",
)
def doctor(
    device: str,
    preset: str,
    hidden: int | None,
    layers: int | None,
    heads: int | None,
    kv_heads: int | None,
    intermediate: int | None,
    row_tokens: int | None,
    dtype: str | None,
    isolation_rows: int,
    warmup: int,
    steps: int,
    seed: int,
    json_path: Path | None,
    markdown_path: Path | None,
    inject_leak: bool,
) -> None:
    """Check packed attention on this machine: isolation on every attention path, and speed against padding.

    Builds a random-initialised Llama on the GPU torch sees (else the CPU), packs a real SFT set's lengths with
    bfd through the plugin's own row builder and collator, and for each attention path compares every packed
    segment's logits with the same segment run alone; the shared-attention control must leak. Then times
    forward + backward for padding and for packed rows on each path. Needs torch and transformers, not Axolotl.
    Exits 1 when an isolated path leaks (or the control does not), 2 on bad input.
    """
    missing = [name for name in ("torch", "transformers") if importlib.util.find_spec(name) is None]
    if missing:
        raise UserInputError(
            f"packbench doctor needs {' and '.join(missing)}; install them "
            f"(pip install {' '.join(missing)}), Axolotl is not needed."
        )
    import torch

    from axolotl_packing_bench.doctor import Settings, run_check
    from axolotl_packing_bench.doctor.report import markdown, write_json, write_markdown
    from axolotl_packing_bench.doctor.shape import PRESETS, preset_for, with_overrides

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    elif device == "cuda" and not torch.cuda.is_available():
        raise UserInputError("--device cuda: torch sees no CUDA device here; use --device cpu (or auto).")
    shape = with_overrides(
        PRESETS[preset_for(device) if preset == "auto" else preset],
        hidden=hidden,
        layers=layers,
        heads=heads,
        kv_heads=kv_heads,
        intermediate=intermediate,
        row_tokens=row_tokens,
        dtype=dtype,
    )
    if shape.hidden % shape.heads or shape.heads % shape.kv_heads:
        raise UserInputError(
            f"--hidden {shape.hidden}, --heads {shape.heads}, --kv-heads {shape.kv_heads}: the "
            "hidden size must be a multiple of the heads and the heads a multiple of the kv heads."
        )

    def say(line: str) -> None:
        click.echo(line, err=True)

    findings = run_check(
        Settings(
            shape=shape,
            device=device,
            isolation_rows=isolation_rows,
            warmup=warmup,
            steps=steps,
            inject_leak=inject_leak,
            seed=seed,
        ),
        say=say,
    )
    if json_path is not None:
        write_json(findings, json_path)
        say(f"wrote {json_path}")
    if markdown_path is not None:
        write_markdown(findings, markdown_path)
        say(f"wrote {markdown_path}")
    click.echo(markdown(findings), nl=False)
    for line in findings.failures:
        say(f"packbench doctor: {line}")
    sys.exit(1 if findings.failures else 0)
