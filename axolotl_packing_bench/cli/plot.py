"""`packbench plot`: the size sweep's figures (quality and time vs padding across dataset sizes)."""

from __future__ import annotations

from pathlib import Path

import click

from axolotl_packing_bench.cli.errors import UserInputError


@click.command()
@click.option("--results", "results_path", type=click.Path(path_type=Path), required=True,
              help="A results.jsonl of a sweep: models x dataset sizes x strategies (with padding) x seeds.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("leaderboard"), show_default=True,
              help="Folder for the PNGs (one per model) and the table of plotted numbers.")
@click.option("--name", default=None, help="File name prefix (default: the results file's stem).")
def plot(results_path: Path, out_dir: Path, name: str | None) -> None:
    """Plot held-out loss vs padding and time / padding's against dataset size, per model.

    One PNG per model (two panels, 95% intervals over seeds) and
    `<name>-series.md`, the numbers the figures show. Needs the `plot`
    extra (matplotlib).
    """
    from axolotl_packing_bench.results.store import read_results
    from axolotl_packing_bench.report.sweep import SweepDataError, plot_sweep, series_table, sweep_series
    from axolotl_packing_bench.core.extras import require

    if not results_path.is_file():
        raise UserInputError(f"results file {results_path} does not exist; pass the results.jsonl of a sweep "
                             "(packbench run --matrix ... --results FILE).")
    try:
        points = sweep_series(read_results(results_path), source=str(results_path))
    except SweepDataError as error:
        raise UserInputError(str(error)) from None
    require("matplotlib", command="plot")
    prefix = name or results_path.stem
    paths = plot_sweep(points, out_dir, name=prefix)
    table = out_dir / f"{prefix}-series.md"
    table.write_text(series_table(points), encoding="utf-8")
    for path in [*paths, table]:
        click.echo(f"wrote {path}")
