"""Which pip extra of axolotl-packing-bench brings a module, and the sentence to say when it is missing.

The CLI turns a `ModuleNotFoundError` of any command into that sentence
(`missing_extra_message`), so a user reads what to install instead of a
traceback; `require` checks up front, before a command does any work.
"""

from __future__ import annotations

import importlib.util

PACKAGE = "axolotl-packing-bench"

# top-level module -> the extra (pyproject.toml [project.optional-dependencies]) that installs it
EXTRAS: dict[str, str] = {
    "axolotl": "axolotl",
    "torch": "axolotl",
    "transformers": "axolotl",
    "tokenizers": "axolotl",
    "datasets": "axolotl",
    "sklearn": "axolotl",
    "accelerate": "axolotl",
    "peft": "axolotl",
    "trl": "axolotl",
    "pydantic": "axolotl",
    "lm_eval": "eval",
    "openai": "eval",
    "ray": "cluster",
    "matplotlib": "plot",
}


def extra_for(module: str) -> str | None:
    """The extra that installs `module` (or a submodule of it), or None when none does."""
    return EXTRAS.get(module.split(".")[0])


def install_hint(extra: str) -> str:
    """`pip install 'axolotl-packing-bench[eval]'`."""
    return f"pip install '{PACKAGE}[{extra}]'"


def missing_message(module: str, command: str | None = None) -> str | None:
    """One sentence naming the missing module, its extra and the install command; None if no extra has it."""
    extra = extra_for(module)
    if extra is None:
        return None
    who = f"packbench {command}" if command else "this command"
    top = module.split(".")[0]
    return f"{who} needs the `{top}` package, which the `{extra}` extra installs; run {install_hint(extra)}."


def missing_extra_message(error: ModuleNotFoundError, command: str | None = None) -> str | None:
    """`missing_message` for a caught `ModuleNotFoundError` (None: not a module of an extra)."""
    return missing_message(error.name, command) if error.name else None


def require(*modules: str, command: str | None = None) -> None:
    """Raise `ModuleNotFoundError` for the first of `modules` that is not installed (nothing is imported)."""
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a None placeholder in sys.modules, or a broken parent
            found = False
        if not found:
            raise ModuleNotFoundError(missing_message(module, command) or f"No module named {module!r}", name=module)
