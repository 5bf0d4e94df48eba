"""`packbench probe`: probes of a trained model (`packbench probe reliance`)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from axolotl_packing_bench.cli.errors import UserInputError
from axolotl_packing_bench.constants import RELIANCE_BOOTSTRAP, RELIANCE_K, RELIANCE_SEED


@click.group()
def probe() -> None:
    """Probe a trained model: how much it relies on context (`list` shows every registered probe)."""


@probe.command()
@click.option(
    "--model",
    "model_dir",
    required=True,
    help="Local model directory with its tokenizer (a run's output_dir), or an embedded base such as "
    "packbench://model/tiny-8b (the positive control: a base that reads its context).",
)
@click.option(
    "--data",
    "data_path",
    required=True,
    metavar="FILE",
    help="JSONL of held-out questions with related/conflicting/unrelated contexts, "
    "or packbench://heldout?seed=N for the embedded split.",
)
@click.option(
    "--k",
    type=click.IntRange(min=0),
    default=RELIANCE_K,
    show_default=True,
    help="Examples in the few-shot condition (0 leaves it out).",
)
@click.option(
    "--bootstrap",
    type=click.IntRange(min=0),
    default=RELIANCE_BOOTSTRAP,
    show_default=True,
    help="Paired-bootstrap resamples over questions for the confidence intervals.",
)
@click.option(
    "--seed", type=int, default=RELIANCE_SEED, show_default=True, help="Seed for few-shot examples and resamples."
)
@click.option("--max-questions", type=click.IntRange(min=1), default=None, help="Probe only the first N questions.")
@click.option("--no-generate", is_flag=True, help="Skip greedy generation (exact match); answer loss only.")
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="torch CPU threads (default: torch's choice; 1 is fastest for tiny models on a busy machine).",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(path_type=Path),
    default=None,
    metavar="OUT",
    help="Also write the full result as JSON to OUT.",
)
def reliance(
    model_dir: str,
    data_path: str,
    k: int,
    bootstrap: int,
    seed: int,
    max_questions: int | None,
    no_generate: bool,
    threads: int | None,
    json_path: Path | None,
) -> None:
    """Does the model use related context, get misled by a conflicting one, gain from examples?

    For each held-out question, the answer loss and exact match are measured
    with no context, a related context stating the answer, one stating a
    conflicting answer, an unrelated one, and k few-shot examples. Effects
    are paired differences with bootstrap confidence intervals.
    """
    from axolotl_packing_bench.core.extras import require

    require("torch", "transformers", command="probe")
    from axolotl_packing_bench.assets.uri import is_asset_uri
    from axolotl_packing_bench.probes.reliance import (
        ProbeDataError,
        format_table,
        run_reliance_probe,
    )

    if is_asset_uri(model_dir):
        from axolotl_packing_bench.assets import resolve_asset_uri

        try:
            model_dir = resolve_asset_uri(model_dir)
        except ValueError as error:
            raise UserInputError(f"--model: {error}") from None
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise UserInputError(f"--model {str(model_dir)!r} is not a directory; pass the output_dir of a training run.")
    try:
        result = run_reliance_probe(
            model_dir,
            data_path,
            k=k,
            bootstrap=bootstrap,
            seed=seed,
            max_questions=max_questions,
            generate=not no_generate,
            threads=threads,
        )
    except ProbeDataError as error:
        raise UserInputError(str(error)) from None
    except ValueError as error:  # a bad packbench:// URI
        raise UserInputError(f"--data: {error}") from None
    click.echo(format_table(result), nl=False)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        click.echo(f"wrote {json_path}")


@probe.command("list")
def list_probes() -> None:
    """List the registered probes, their settings (a matrix's `probes:` keys) and what they measure."""
    from axolotl_packing_bench.probes.registry import get_probe, probe_names

    for name in probe_names():
        entry = get_probe(name)
        settings = ", ".join(f"{key} ({getattr(kind, '__name__', kind)})" for key, kind in entry.settings.items())
        click.echo(f"{name}: {entry.summary}\n  settings: {settings or 'none'}")


@probe.command("run")
@click.argument("name")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="A probe setting, as in a matrix's `probes:` section (YAML value); repeatable.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(path_type=Path),
    default=None,
    metavar="OUT",
    help="Also write the probe's full report as JSON to OUT.",
)
def run_probe_command(name: str, run_dir: Path, assignments: tuple[str, ...], json_path: Path | None) -> None:
    """Run any registered probe on a trained cell's RUN_DIR (its model in RUN_DIR/output), as a matrix would.

    Prints the report as a table; --json OUT also writes the full report.
    """
    import yaml

    from axolotl_packing_bench.probes.registry import get_probe, report_table, run_probe, settings_problems

    settings = {}
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        if not sep or not key:
            raise UserInputError(f"--set {assignment!r} is not KEY=VALUE; write e.g. --set max_questions=20.")
        settings[key] = yaml.safe_load(value)
    problems = settings_problems(name, settings)
    if problems:
        key, message, fix = problems[0]
        raise UserInputError(f"{key}: {message}; {fix}.")
    if not (run_dir / "output").is_dir():
        raise UserInputError(f"{str(run_dir)!r} has no output/ directory; pass a trained cell's run directory.")
    report = run_probe(name, run_dir, settings)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if "error" in report:
        raise click.ClickException(str(report["error"]))
    table = get_probe(name).table or report_table
    click.echo(table(report), nl=False)
    if json_path is not None:
        click.echo(f"wrote {json_path}")
