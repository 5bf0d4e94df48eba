"""One-sentence errors for bad user input, shown without a traceback."""

from __future__ import annotations

import click


class UserInputError(click.ClickException):
    """Bad input the user can fix: one sentence naming the input and the fix."""

    exit_code = 2
