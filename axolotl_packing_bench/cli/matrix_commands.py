"""`packbench validate` and `packbench recipes`: check a matrix, write its recipes."""

from __future__ import annotations

from pathlib import Path

import click

from axolotl_packing_bench.cli.bench_options import (
    ProblemsError,
    load_cells,
    matrix_option,
    only_option,
    runs_dir_option,
)


@click.command()
@matrix_option
@click.option(
    "--schema/--no-schema",
    default=True,
    show_default=True,
    help="Also check every generated recipe against Axolotl's config schema (imports Axolotl: ~20 s).",
)
def validate(matrix_path: Path, schema: bool) -> None:
    """Check a matrix file and every Axolotl recipe it generates.

    Reports each problem with the file and key to edit and the fix, and exits
    with status 2 if there is any. The schema check runs offline: it loads no
    model and downloads nothing.
    """
    matrix, cells = load_cells(matrix_path)
    if schema:
        from axolotl_packing_bench.bench.schema import check_cells

        problems = check_cells(matrix, cells)
        if problems:
            raise ProblemsError(problems, str(matrix_path))
    checked = "checked against Axolotl's schema" if schema else "schema not checked"
    click.echo(f"{matrix_path}: OK, {len(cells)} cells ({checked}).")


@click.command()
@matrix_option
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False), help="Directory for <cell_id>.yml files.")
@click.option(
    "--resolve",
    is_flag=True,
    help="Replace packbench:// URIs with local paths (building the assets); such files are machine-specific: do not commit them.",
)
@only_option
@runs_dir_option
def recipes(matrix_path: Path, out_dir: Path, resolve: bool, only: tuple[str, ...], runs_dir: Path) -> None:
    """Write one Axolotl recipe per matrix cell, as OUT/<cell_id>.yml.

    Each file opens with the command that trains it (`axolotl train ...`).
    Output is deterministic; generated files of cells no longer in the
    matrix are removed, other files are left alone. URIs are kept unless
    --resolve, so the files can be committed.
    """
    from axolotl_packing_bench.bench.recipe import default_resolver, write_recipes

    _, cells = load_cells(matrix_path, only)
    try:
        written = write_recipes(cells, out_dir, runs_dir=runs_dir, resolve=default_resolver() if resolve else None, prune=not only)
    except ValueError as error:  # an unknown packbench:// asset
        from axolotl_packing_bench.cli.errors import UserInputError

        raise UserInputError(f"cannot resolve an asset of {matrix_path}: {error}") from None
    click.echo(f"wrote {len(written)} recipe(s) to {out_dir}")
