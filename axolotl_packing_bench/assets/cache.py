"""Where assets live, and building each one once, atomically.

Layout under `assets_root()`::

    $PACKBENCH_HOME/assets-v<RECIPE_VERSION>/
        tokenizer/                   tokenizer.json, chat_template.jinja, ...
        models/tiny-8b/              config.json, model.safetensors, tokenizer
        datasets/synth-69k-seed0.jsonl
        datasets/heldout-seed0.jsonl
        .locks/                      one lock file per asset

``PACKBENCH_HOME`` defaults to ``~/.cache/axolotl-packing-bench``. An asset is
built in a temporary sibling and renamed into place under an exclusive
``flock``, so a path that exists is always complete, and parallel processes
asking for the same asset build it once.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from axolotl_packing_bench.assets.specs import RECIPE_VERSION
from axolotl_packing_bench.core.fileio import locked

HOME_ENV = "PACKBENCH_HOME"


class AssetError(RuntimeError):
    """An embedded asset could not be set up (a damaged install, a failed build); the message is one sentence."""


def packbench_home() -> Path:
    """``$PACKBENCH_HOME``, or ``~/.cache/axolotl-packing-bench``."""
    home = os.environ.get(HOME_ENV)
    return Path(home).expanduser() if home else Path.home() / ".cache" / "axolotl-packing-bench"


def assets_root() -> Path:
    """The directory of this asset recipe's built assets."""
    return packbench_home() / f"assets-v{RECIPE_VERSION}"


def build_once(target: Path, build: Callable[[Path], None], *, rebuild: bool = False) -> Path:
    """Return ``target``, building it with ``build(tmp_path)`` if missing.

    ``build`` writes a file or a directory at the path it is given; that path
    is then renamed to ``target``. With ``rebuild``, an existing ``target`` is
    replaced. Safe across processes: the build runs under a per-target lock
    and readers never see a half-written target.
    """
    if target.exists() and not rebuild:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with locked(assets_root() / ".locks" / f"{target.parent.name}-{target.name}.lock"):
        if target.exists() and not rebuild:  # another process built it while we waited
            return target
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            built = staging / target.name
            build(built)
            if target.exists():
                old = staging / "old"
                os.replace(target, old)  # a directory cannot be replaced in one rename
            os.replace(built, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def tree_size(path: Path) -> int:
    """Bytes of a file, or of all files under a directory."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
