"""`packbench plot`: the size sweep's figures (quality and time vs padding across dataset sizes)."""

from __future__ import annotations

from pathlib import Path

import click

from axolotl_packing_bench.cli.errors import UserInputError


@click.command()
@click.option(
    "--results",
    "results_path",
    type=click.Path(path_type=Path),
    required=True,
    help="A results.jsonl of a sweep: models x dataset sizes x strategies (with padding) x seeds.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("leaderboard"),
    show_default=True,
    help="Folder for the PNG and the table of plotted numbers.",
)
@click.option("--name", default=None, help="File name prefix (default: the results file's stem).")
def plot(results_path: Path, out_dir: Path, name: str | None) -> None:
    """Plot held-out loss vs padding and time / padding's against dataset size, every model in one figure.

    `<name>.png` (a column per model on shared y-axes, 95% intervals over
    seeds; a caption when runs were timed on a loaded machine) and
    `<name>-series.md`, the numbers the figure shows. Needs matplotlib (the
    `plot` or `dev` extra).
    """
    from axolotl_packing_bench.core.extras import require
    from axolotl_packing_bench.report.sweep import SweepDataError, loaded_runs, plot_sweep, series_table, sweep_series
    from axolotl_packing_bench.results.store import read_results

    if not results_path.is_file():
        raise UserInputError(
            f"results file {results_path} does not exist; pass the results.jsonl of a sweep "
            "(packbench run --matrix ... --results FILE)."
        )
    results = read_results(results_path)
    try:
        points = sweep_series(results, source=str(results_path))
    except SweepDataError as error:
        raise UserInputError(str(error)) from None
    require("matplotlib", command="plot")
    prefix = name or results_path.stem
    loaded, total = loaded_runs(results)
    caption = (
        f"Times measured on a loaded machine ({loaded} of {total} runs): the time panels are not comparable run to run."
        if loaded
        else None
    )
    paths = plot_sweep(points, out_dir, name=prefix, caption=caption)
    table = out_dir / f"{prefix}-series.md"
    table.write_text(series_table(points), encoding="utf-8")
    for path in [*paths, table]:
        click.echo(f"wrote {path}")
