"""`packbench validate` and `packbench recipes`: check a matrix (or a recipe), write its recipes."""

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
from axolotl_packing_bench.cli.errors import UserInputError


@click.command()
@click.option(
    "--matrix",
    "matrix_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Matrix YAML file (see recipes/matrices/smoke.yaml).",
)
@click.option(
    "--recipe",
    "recipe_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A hand-written Axolotl recipe (YAML) instead of a matrix.",
)
@click.option(
    "--schema/--no-schema",
    default=True,
    show_default=True,
    help="Also check every generated recipe against Axolotl's config schema, once per distinct recipe shape "
    "(imports Axolotl: seconds to tens of seconds, then well under a second per shape).",
)
@click.option(
    "--data/--no-data",
    default=True,
    show_default=True,
    help="Also check local files: dataset files exist, are UTF-8, not empty, parse, and have the fields "
    "their dataset type reads; local model folders exist and hold a config.json (relative paths: from this "
    "directory, as `packbench run` reads them).",
)
def validate(matrix_path: Path | None, recipe_path: Path | None, schema: bool, data: bool) -> None:
    """Check a matrix file (or one recipe) and every Axolotl recipe it generates.

    Reports each problem with the file and key to edit and the fix, and exits
    with status 2 if there is any. The schema check runs offline: it loads no
    model and downloads nothing. A matrix whose eval judge names an API key
    variable (`eval.judge.api_key_env`) that is not set fails too. With
    --recipe, the plugin's own config errors show here as one line each,
    before any training starts. `packbench run` runs the same checks first.
    """
    from axolotl_packing_bench.cli.validation import describe_checks, matrix_problems, stderr_lines

    if (matrix_path is None) == (recipe_path is None):
        raise UserInputError("pass either --matrix FILE or --recipe FILE to `packbench validate`.")
    checked = describe_checks(schema, data)
    if recipe_path is not None:
        _validate_recipe(recipe_path, schema=schema, data=data)
        click.echo(f"{recipe_path}: OK ({checked}).")
        return
    matrix, cells = load_cells(matrix_path)
    problems = matrix_problems(matrix, cells, schema=schema, data=data, progress=stderr_lines())
    if problems:
        raise ProblemsError(problems, str(matrix_path))
    click.echo(f"{matrix_path}: OK, {len(cells)} cells ({checked}).")


def _validate_recipe(path: Path, *, schema: bool, data: bool) -> None:
    from axolotl_packing_bench.cli.validation import recipe_problems
    from axolotl_packing_bench.matrix.problems import MatrixError, Problem
    from axolotl_packing_bench.matrix.yamlio import load_yaml_file

    try:
        config = load_yaml_file(path)
    except MatrixError as error:
        raise ProblemsError(error.problems, str(path)) from None
    if not isinstance(config, dict):
        raise ProblemsError(
            [Problem(str(path), "", "is not a YAML mapping", "write the recipe as key: value lines")], str(path)
        )
    problems = recipe_problems(path, config, schema=schema, data=data)
    if problems:
        raise ProblemsError(problems, str(path))


@click.command()
@matrix_option
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory for <cell_id>.yml files.",
)
@click.option(
    "--resolve",
    is_flag=True,
    help="Replace packbench:// URIs with local paths (building the assets); "
    "such files are machine-specific: do not commit them.",
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
    from axolotl_packing_bench.matrix.recipe import default_resolver, write_recipes

    _, cells = load_cells(matrix_path, only)
    try:
        written = write_recipes(
            cells, out_dir, runs_dir=runs_dir, resolve=default_resolver() if resolve else None, prune=not only
        )
    except ValueError as error:  # an unknown packbench:// asset
        raise UserInputError(f"cannot resolve an asset of {matrix_path}: {error}") from None
    click.echo(f"wrote {len(written)} recipe(s) to {out_dir}")
