"""Problems found in a matrix or a recipe: file, key, what is wrong, the fix."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with user input.

    Attributes:
        file: The file the user edits to fix it.
        key: Dotted path of the offending key inside that file (may be "").
        message: What is wrong, one sentence without a trailing period.
        fix: What to change, one sentence without a trailing period.
        cells: How many matrix cells show this problem (0 when not per cell).
    """

    file: str
    key: str
    message: str
    fix: str
    cells: int = 0

    def __str__(self) -> str:
        where = f"{self.file}: {self.key}" if self.key else self.file
        seen = f" ({self.cells} cells)" if self.cells > 1 else ""
        return f"{where}: {self.message}{seen}; fix: {self.fix}."


class MatrixError(ValueError):
    """A matrix (or a recipe it generates) has problems; `problems` lists them all."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))
