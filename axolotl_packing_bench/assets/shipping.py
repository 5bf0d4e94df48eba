"""The pre-trained bases and the tokenizer, shipped built inside the package.

Pre-training both bases takes minutes on a 2-core CPU and gives the same bytes
every time (`pretrain`), so the package carries those bytes::

    assets/shipped/
        manifest.json              recipe version, and the sha256 of every shipped file
        tokenizer/                 tokenizer.json, tokenizer_config.json, chat_template.jinja
        tiny-8b-<recipe hash>/     config.json, model.safetensors, pretraining.json, tokenizer files
        tiny-70b-<recipe hash>/

A base is installed from here (copied, each file checked against the
manifest) when its folder name, the name of the cache folder the current
recipe builds (`ModelSpec.directory_name`: the name and the pre-training
recipe's hash), and the manifest's `RECIPE_VERSION` and architecture all
match; anything else is built as before. A maintainer who changes the
recipe rebuilds the bases and refreshes this folder with::

    python -m axolotl_packing_bench.assets.shipping [ASSET_ROOT]

(ASSET_ROOT defaults to the current `$PACKBENCH_HOME` asset root.)
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from functools import cache
from pathlib import Path
from typing import Any

from axolotl_packing_bench.assets.cache import AssetError
from axolotl_packing_bench.assets.specs import MODELS, RECIPE_VERSION, ModelSpec

SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"
MANIFEST_FILE = "manifest.json"
TOKENIZER = "tokenizer"


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def folder_sha256(directory: Path) -> dict[str, str]:
    """sha256 of every file directly in ``directory``, by file name."""
    return {path.name: file_sha256(path) for path in sorted(directory.iterdir()) if path.is_file()}


@cache
def read_manifest(shipped: Path = SHIPPED_DIR) -> dict[str, Any]:
    """The shipped manifest, or an empty one when the package carries none."""
    path = shipped / MANIFEST_FILE
    if not path.is_file():
        return {"recipe_version": None, "tokenizer": {}, "bases": {}}
    return json.loads(path.read_text(encoding="utf-8"))


def shipped_tokenizer(shipped: Path = SHIPPED_DIR) -> Path | None:
    """The shipped tokenizer folder when it was built by this `RECIPE_VERSION`, else None."""
    manifest = read_manifest(shipped)
    folder = shipped / TOKENIZER
    return (
        folder if manifest["recipe_version"] == RECIPE_VERSION and manifest["tokenizer"] and folder.is_dir() else None
    )


def shipped_base(spec: ModelSpec, shipped: Path = SHIPPED_DIR) -> Path | None:
    """The shipped folder of base ``spec`` when it was built from exactly this recipe, else None."""
    if spec.pretrain is None:
        return None
    manifest = read_manifest(shipped)
    entry = manifest["bases"].get(spec.name)
    if (
        manifest["recipe_version"] != RECIPE_VERSION
        or entry is None
        or entry["directory"] != spec.directory_name()
        or tuple(entry["architecture"]) != spec.architecture
    ):
        return None
    folder = shipped / entry["directory"]
    return folder if folder.is_dir() else None


def install(source: Path, target: Path, expected: dict[str, str]) -> None:
    """Copy the shipped folder ``source`` to ``target``, checking each file's sha256 against ``expected``.

    Raises:
        AssetError: a file is missing or differs from the manifest (a damaged install).
    """
    target.mkdir(parents=True)
    for name, sha256 in sorted(expected.items()):
        if (source / name).is_file():
            shutil.copyfile(source / name, target / name)
        if not (target / name).is_file() or file_sha256(target / name) != sha256:
            raise AssetError(
                f"the shipped file {source / name} does not match its manifest; reinstall "
                "axolotl-packing-bench or run `packbench assets --rebuild` to build it instead."
            )


def install_tokenizer(target: Path, shipped: Path = SHIPPED_DIR) -> None:
    """Install the shipped tokenizer at ``target`` (see `shipped_tokenizer`)."""
    install(shipped / TOKENIZER, target, read_manifest(shipped)["tokenizer"])


def install_base(spec: ModelSpec, target: Path, shipped: Path = SHIPPED_DIR) -> None:
    """Install the shipped base ``spec`` at ``target`` (see `shipped_base`)."""
    entry = read_manifest(shipped)["bases"][spec.name]
    install(shipped / entry["directory"], target, entry["files"])


def write_shipped(asset_root: Path, shipped: Path = SHIPPED_DIR) -> dict[str, Any]:
    """Replace ``shipped`` with the tokenizer and pre-trained bases built under ``asset_root``; returns the manifest.

    Every base of `MODELS` but the on-demand ones (never shipped) must be built there from the current recipe (its
    `pretraining.json` records the recipe hash, which is checked).
    """
    from axolotl_packing_bench.assets.models import PRETRAINING_FILE

    bases: dict[str, dict[str, Any]] = {}
    for name, spec in MODELS.items():
        if spec.pretrain is None or spec.on_demand:
            continue
        built = asset_root / "models" / spec.directory_name()
        record = json.loads((built / PRETRAINING_FILE).read_text(encoding="utf-8"))
        if record["digest"] != spec.pretrain.digest():
            raise ValueError(
                f"{built} was pre-trained from recipe {record['digest']}, not the current "
                f"{spec.pretrain.digest()}; rebuild it with `packbench assets --rebuild --only models`."
            )
        bases[name] = {
            "directory": spec.directory_name(),
            "architecture": list(spec.architecture),
            "files": folder_sha256(built),
        }
    manifest = {"recipe_version": RECIPE_VERSION, "tokenizer": folder_sha256(asset_root / TOKENIZER), "bases": bases}
    if shipped.exists():
        shutil.rmtree(shipped)
    shutil.copytree(asset_root / TOKENIZER, shipped / TOKENIZER)
    for entry in bases.values():
        shutil.copytree(asset_root / "models" / entry["directory"], shipped / entry["directory"])
    (shipped / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    read_manifest.cache_clear()
    return manifest


if __name__ == "__main__":
    from axolotl_packing_bench.assets.cache import assets_root

    root = Path(sys.argv[1]) if len(sys.argv) > 1 else assets_root()
    written = write_shipped(root)
    print(f"shipped the tokenizer and {', '.join(e['directory'] for e in written['bases'].values())} from {root}")
