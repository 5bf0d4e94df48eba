"""Name and size labels of the embedded assets, the same for a matrix cell and a run recorded by hand.

A matrix labels a model or dataset by its axis entry (`name`, `size`); a
hand run only has the paths its metrics recorded. For the embedded tiny
models and synthetic datasets both derive the labels from the asset itself,
so `packbench://model/tiny-8b` and `<cache>/assets-v1/models/tiny-8b` are
both `tiny-8b` of size `8B`, and `packbench://dataset/100` and
`<cache>/assets-v1/datasets/synth-n100-seed0.jsonl` both `synth-100` of size `100`.
Any other path gives None: its labels come from the matrix or from
`packbench record --model-name/--model-size/--dataset-name/--dataset-size`.

A tiny model's size label is the model it stands for, so boards show its own
parameter count first: `model_title` gives `tiny-8b · 0.6M params, stands for 8B`.
"""

from __future__ import annotations

import functools
import re
from pathlib import PurePath

from axolotl_packing_bench.assets.specs import DATASETS, MODELS
from axolotl_packing_bench.assets.uri import parse_asset_uri

_DATASET_FILE = re.compile(
    r"^(?P<name>synth-n(?P<n>\d+)|[\w.-]+?)-seed(?P<seed>\d+)(?:-overlong(?P<over>[\d.e+-]+))?\.jsonl$"
)


def _size(stands_for: str) -> str:
    """ "8B" of "Llama-3-8B", "69K" of "69K samples"."""
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


def _parameters(count: int) -> str:
    """589760 -> "0.6M", 1_900_928 -> "1.9M", 12_000 -> "12K"."""
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if count >= scale / 10:
            return f"{count / scale:.1f}".rstrip("0").rstrip(".") + suffix
    return str(count)


@functools.cache
def _vocab_size() -> int:
    from axolotl_packing_bench.assets.tokenizer import build_vocab

    return len(build_vocab())


def model_title(name: str, size: str | None) -> str:
    """How a board names a model: `tiny-8b · 0.6M params, stands for 8B` for an embedded tiny model
    labelled with its stand-in size, else `name (size)` (or the name alone without a size)."""
    spec = MODELS.get(str(name))
    if spec is not None and size == _size(spec.stands_for):
        return f"{name} · {_parameters(spec.num_parameters(_vocab_size()))} params, stands for {size}"
    return f"{name} ({size})" if size else str(name)


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
