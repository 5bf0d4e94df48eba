"""Name and size labels of the embedded assets, the same for a matrix cell and a run recorded by hand.

A matrix labels a model or dataset by its axis entry (`name`, `size`); a
hand run only has the paths its metrics recorded. For the embedded tiny
models and synthetic datasets both derive the labels from the asset itself,
so `packbench://model/tiny-8b` and `<cache>/assets-v1/models/tiny-8b` are
both `tiny-8b (8B)`, and `packbench://dataset/100` and
`<cache>/assets-v1/datasets/synth-n100-seed0.jsonl` both `synth-100 (100)`.
Any other path gives None: its labels come from the matrix or from
`packbench record --model-name/--model-size/--dataset-name/--dataset-size`.
"""

from __future__ import annotations

import re
from pathlib import PurePath

from axolotl_packing_bench.assets.specs import DATASETS, MODELS
from axolotl_packing_bench.assets.uri import parse_asset_uri

_DATASET_FILE = re.compile(r"^(?P<name>synth-n(?P<n>\d+)|[\w.-]+?)-seed(?P<seed>\d+)(?:-overlong(?P<over>[\d.e+-]+))?\.jsonl$")


def _size(stands_for: str) -> str:
    """"8B" of "Llama-3-8B", "69K" of "69K samples"."""
    return stands_for.split()[0].rsplit("-", 1)[-1]


def _in_assets(path: PurePath, kind: str) -> bool:
    return path.parent.name == kind and path.parent.parent.name.startswith("assets-v")


def model_labels(path: str) -> tuple[str, str] | None:
    """`(name, size)` of an embedded model (URI or built directory), else None."""
    text = str(path).rstrip("/")
    uri = parse_asset_uri(text)
    if uri is not None:
        name = uri.name if uri.kind == "model" else ""
    else:
        candidate = PurePath(text)
        name = candidate.name if _in_assets(candidate, "models") else ""
    spec = MODELS.get(name)
    return (spec.name, _size(spec.stands_for)) if spec else None


def _dataset(name_or_n: str, seed: int, overlong: str | None) -> tuple[str, str] | None:
    if name_or_n.isdigit():
        name, size = f"synth-{int(name_or_n)}", str(int(name_or_n))
    elif name_or_n in DATASETS:
        name, size = name_or_n, _size(DATASETS[name_or_n].stands_for)
    else:
        return None
    suffix = (f"-seed{seed}" if seed else "") + (f"-overlong{overlong}" if overlong and float(overlong) else "")
    return name + suffix, size


def dataset_labels(path: str) -> tuple[str, str] | None:
    """`(name, size)` of an embedded synthetic dataset (URI or built file), else None."""
    text = str(path)
    uri = parse_asset_uri(text)
    if uri is not None:
        if uri.kind != "dataset":
            return None
        try:
            return _dataset(uri.name, int(uri.query.get("seed", 0)), uri.query.get("overlong"))
        except ValueError:
            return None
    candidate = PurePath(text)
    match = _DATASET_FILE.match(candidate.name)
    if not _in_assets(candidate, "datasets") or match is None:
        return None
    return _dataset(match["n"] or match["name"], int(match["seed"]), match["over"])
