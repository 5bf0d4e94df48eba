"""Options and helpers shared by the bench commands (run, validate, record...)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from axolotl_packing_bench.cli.errors import UserInputError
from axolotl_packing_bench.constants import DEFAULT_LEADERBOARD, DEFAULT_RESULTS

STDOUT = Path("-")
"""`--leaderboard -`: print the board to stdout instead of writing a file."""


class ProblemsError(click.ClickException):
    """Several problems in user input, one per line; exit status 2."""

    exit_code = 2

    def __init__(self, problems: Any, source: str):
        self.problems = list(problems)
        lines = [str(problem) for problem in self.problems]
        count = len(self.problems)
        lines.append(f"{count} problem{'s' if count != 1 else ''} in {source}.")
        super().__init__("\n".join(lines))


def matrix_option(function: Callable) -> Callable:
    return click.option(
        "--matrix",
        "matrix_path",
        required=True,
        type=click.Path(path_type=Path, dir_okay=False),
        help="Matrix YAML file (see recipes/matrices/smoke.yaml).",
    )(function)


def results_option(function: Callable) -> Callable:
    return click.option(
        "--results",
        "results_path",
        default=DEFAULT_RESULTS,
        show_default=True,
        type=click.Path(path_type=Path, dir_okay=False),
        help="Results JSONL (the source of truth).",
    )(function)


def leaderboard_option(function: Callable) -> Callable:
    return click.option(
        "--leaderboard",
        "leaderboard_path",
        default=DEFAULT_LEADERBOARD,
        show_default=True,
        type=click.Path(path_type=Path, dir_okay=False),
        help="Markdown leaderboard rendered from the results; - prints it to stdout instead.",
    )(function)


def board_file(leaderboard_path: Path) -> Path | None:
    """The leaderboard file to write, or None for `--leaderboard -` (printed instead)."""
    return None if leaderboard_path == STDOUT else leaderboard_path


def runs_dir_option(function: Callable) -> Callable:
    return click.option(
        "--runs-dir",
        default="runs",
        show_default=True,
        type=click.Path(path_type=Path, file_okay=False),
        help="Where each cell's recipe, log and output go: <runs-dir>/<matrix>/<cell_id>/.",
    )(function)


def only_option(function: Callable) -> Callable:
    return click.option(
        "--only",
        multiple=True,
        metavar="PATTERN",
        help="Only cells matching PATTERN: a glob on the cell id, or axis=value (e.g. strategy=greedy). Repeatable.",
    )(function)


def load_cells(matrix_path: Path, only: tuple[str, ...] = ()) -> tuple[Any, list[Any]]:
    """Parse and expand a matrix; its problems become a `ProblemsError`."""
    from axolotl_packing_bench.matrix.problems import MatrixError
    from axolotl_packing_bench.matrix.spec import expand, load_matrix, select

    try:
        matrix = load_matrix(matrix_path)
        cells = expand(matrix)
    except MatrixError as error:
        raise ProblemsError(error.problems, str(matrix_path)) from None
    selected = select(cells, only)
    if only and not selected:
        raise UserInputError(
            f"no cell of {matrix_path} matches --only {' '.join(only)}; "
            f"list cells with `packbench run --matrix {matrix_path} --dry-run`."
        )
    return matrix, selected


def read_results_or_fail(path: Path, *, must_exist: bool = False) -> list[Any]:
    """Results of `path`; a missing file is empty, or a one-sentence error when `must_exist`."""
    from axolotl_packing_bench.results.kinds import WrongKindOfFile, check_has_rows, check_results_path
    from axolotl_packing_bench.results.store import read_results

    if not path.exists():
        if must_exist:
            raise UserInputError(
                f"results file {path} does not exist; pass the results.jsonl written by `packbench run`."
            )
        return []
    if path.is_dir():
        raise UserInputError(f"{path} is a directory; pass a results.jsonl file.")
    try:
        check_results_path(path)
        results = read_results(path)
        check_has_rows(path, len(results))
    except WrongKindOfFile as error:
        raise UserInputError(str(error)) from None
    except OSError as error:
        raise UserInputError(f"results file {path} cannot be read ({error.strerror}); check its permissions.") from None
    return results


def check_board_or_fail(path: Path | None) -> None:
    """Refuse, in one sentence, a --leaderboard path that holds something other than a board (before any work)."""
    from axolotl_packing_bench.results.kinds import WrongKindOfFile, check_board_path

    if path is None:
        return
    try:
        check_board_path(path)
    except WrongKindOfFile as error:
        raise UserInputError(str(error)) from None
