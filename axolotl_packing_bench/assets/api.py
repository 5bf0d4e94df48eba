"""Build-on-first-use access to the embedded assets, and ``packbench://`` URIs."""

from __future__ import annotations

import json
from pathlib import Path

from axolotl_packing_bench.assets import synthetic
from axolotl_packing_bench.assets.cache import AssetError, assets_root, build_once
from axolotl_packing_bench.assets.specs import (
    DATASETS,
    MODELS,
    ModelSpec,
    dataset_spec,
    default_models,
    model_spec,
)
from axolotl_packing_bench.assets.uri import asset_uri, parse_asset_uri

URI_KINDS = ("model", "dataset", "tokenizer", "heldout", "heldout-chats")


def ensure_tokenizer(rebuild: bool = False) -> Path:
    """The tokenizer directory: the shipped one copied if missing, built if none ships (or with ``rebuild``)."""
    from axolotl_packing_bench.assets import shipping
    from axolotl_packing_bench.assets.tokenizer import save_tokenizer

    build = shipping.install_tokenizer if shipping.shipped_tokenizer() and not rebuild else save_tokenizer
    return build_once(assets_root() / "tokenizer", build, rebuild=rebuild)


def ensure_model(name: str, rebuild: bool = False) -> Path:
    """The directory of model ``name`` (see `MODELS`), usable as ``base_model``."""
    return _ensure_spec(model_spec(name), rebuild)


def _ensure_spec(spec: ModelSpec, rebuild: bool = False) -> Path:
    """A base shipped for exactly this recipe is copied (unless ``rebuild``); anything else is built."""
    from axolotl_packing_bench.assets import shipping
    from axolotl_packing_bench.assets.models import save_model

    tokenizer_dir = ensure_tokenizer()
    if shipping.shipped_base(spec) is not None and not rebuild:

        def build(path: Path) -> None:
            shipping.install_base(spec, path)
    else:

        def build(path: Path) -> None:
            save_model(spec, path, tokenizer_dir)

    return build_once(assets_root() / "models" / spec.directory_name(), build, rebuild=rebuild)


def unbuilt_bases(names: list[str], rebuild: bool = False) -> list[str]:
    """Those of `names` that are pre-trained bases still to pre-train: not built yet and not shipped for this recipe.

    With `rebuild`, every base among them (the shipped bytes are then ignored).
    """
    from axolotl_packing_bench.assets import shipping

    def pending(spec: ModelSpec) -> bool:
        if rebuild:
            return True
        return not (assets_root() / "models" / spec.directory_name()).exists() and shipping.shipped_base(spec) is None

    return [name for name in names if model_spec(name).pretrain is not None and pending(model_spec(name))]


def ensure_models(names: list[str] | None = None, rebuild: bool = False) -> dict[str, Path]:
    """Several models (default: all but the on-demand bases); the shipped bases are copied, the others pre-trained
    side by side.

    Pre-training is single-threaded (`pretrain.BUILD_THREADS`) and runs one
    process per base, so two bases on a 2-core machine take about as long as
    the larger one alone.
    """
    import multiprocessing

    names = default_models() if names is None else names
    ensure_tokenizer()
    pending = unbuilt_bases(names, rebuild)
    built_aside = pending if len(pending) > 1 else []
    if built_aside:
        context = multiprocessing.get_context("spawn")  # never fork a process that may hold torch threads
        # the spec itself travels (a spawned process re-imports MODELS, which a caller may have changed)
        workers = [
            context.Process(target=_ensure_spec, args=(model_spec(name), rebuild), name=f"build-{name}")
            for name in built_aside
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        failed = [w.name.removeprefix("build-") for w in workers if w.exitcode != 0]
        if failed:
            raise AssetError(
                f"pre-training {', '.join(failed)} failed; run `packbench assets --only models` again to see the error."
            )
    return {name: ensure_model(name, rebuild=rebuild and name not in built_aside) for name in names}


def _dataset_size(name_or_n: str | int) -> tuple[str, int]:
    if isinstance(name_or_n, int) or (isinstance(name_or_n, str) and name_or_n.isdigit()):
        n = int(name_or_n)
        if n <= 0:
            raise ValueError(f"dataset size must be a positive sample count, got {n}")
        return f"synth-n{n}", n
    spec = dataset_spec(name_or_n)
    return spec.name, spec.samples


def ensure_dataset(
    name_or_n: str | int,
    *,
    seed: int = 0,
    overlong_fraction: float = 0.0,
    rebuild: bool = False,
) -> Path:
    """The JSONL of a named dataset (see `DATASETS`) or of ``n`` samples.

    Args:
        name_or_n: ``"synth-69k"``... or a positive sample count.
        seed: Generator seed; pairs with ``ensure_heldout(seed)``.
        overlong_fraction: Share of samples longer than 500 tokens (0 by
            default, so nothing overflows a 512-token capacity).
        rebuild: Regenerate even if cached.
    """
    name, n = _dataset_size(name_or_n)
    suffix = f"-overlong{overlong_fraction:g}" if overlong_fraction else ""
    return build_once(
        assets_root() / "datasets" / f"{name}-seed{seed}{suffix}.jsonl",
        lambda path: synthetic.generate_dataset(n, seed=seed, overlong_fraction=overlong_fraction, path=path),
        rebuild=rebuild,
    )


def ensure_heldout(seed: int = 0, rebuild: bool = False) -> Path:
    """The held-out QA JSONL for ``seed`` (see `synthetic.heldout_rows`)."""
    return build_once(
        assets_root() / "datasets" / f"heldout-seed{seed}.jsonl",
        lambda path: synthetic.write_jsonl(synthetic.heldout_rows(seed), path),
        rebuild=rebuild,
    )


def ensure_heldout_chats(seed: int = 0, rebuild: bool = False) -> Path:
    """The held-out chats JSONL for ``seed`` (see `synthetic.heldout_chats`): every cell's held-out loss."""
    return build_once(
        assets_root() / "datasets" / f"heldout-chats-seed{seed}.jsonl",
        lambda path: synthetic.write_jsonl(synthetic.heldout_chats(seed), path),
        rebuild=rebuild,
    )


def ensure_assets(rebuild: bool = False) -> dict:
    """Build everything; returns paths under tokenizer, models, datasets, heldout."""
    return {
        "tokenizer": ensure_tokenizer(rebuild=rebuild),
        "models": ensure_models(rebuild=rebuild),
        "datasets": {name: ensure_dataset(name, rebuild=rebuild) for name in DATASETS},
        "heldout": ensure_heldout(rebuild=rebuild),
        "heldout_chats": ensure_heldout_chats(rebuild=rebuild),
    }


def resolve_asset_uri(uri: str) -> str:
    """Map a ``packbench://`` URI to a local path, building it on demand.

    ``packbench://model/tiny-8b``, ``packbench://dataset/synth-69k`` (or
    ``packbench://dataset/500?seed=1&overlong=0.02``), ``packbench://tokenizer``
    ``packbench://heldout?seed=0`` (the reliance probe's questions) and
    ``packbench://heldout-chats?seed=0`` (the chats held-out loss is measured
    on). Any other string is returned unchanged.

    Raises:
        ValueError: Unknown kind or name; the message lists the valid ones.
    """
    parsed = parse_asset_uri(uri)
    if parsed is None:
        return uri
    kind, name, query = parsed.kind, parsed.name, dict(parsed.query)
    try:
        seed = int(query.pop("seed", 0))
        overlong = float(query.pop("overlong", 0.0))
    except ValueError as error:
        raise ValueError(f"bad query in {uri!r}: seed must be an integer, overlong a number") from error
    if query:
        raise ValueError(f"unknown option(s) {', '.join(sorted(query))} in {uri!r}; valid: seed, overlong")
    if kind == "model":
        return str(ensure_model(name))
    if kind == "dataset":
        return str(ensure_dataset(name, seed=seed, overlong_fraction=overlong))
    if kind == "tokenizer" and not name:
        return str(ensure_tokenizer())
    if kind == "heldout" and not name:
        return str(ensure_heldout(seed))
    if kind == "heldout-chats" and not name:
        return str(ensure_heldout_chats(seed))
    raise ValueError(
        f"unknown asset URI {uri!r}; valid: {asset_uri('model', '<' + '|'.join(MODELS) + '>')}, "
        f"{asset_uri('dataset', '<' + '|'.join(DATASETS) + '|N>')}, {asset_uri('tokenizer')}, {asset_uri('heldout')}, "
        f"{asset_uri('heldout-chats')}"
    )


def dataset_stats(path: str | Path) -> dict:
    """Samples and token counts (embedded tokenizer) of a conversation JSONL."""
    lengths = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            lengths.append(synthetic.conversation_num_tokens(json.loads(line)["messages"]))
    lengths.sort()
    if not lengths:
        return {"samples": 0, "tokens": 0, "mean": 0.0, "p50": 0, "p99": 0, "max": 0}

    def quantile(q: float) -> int:
        return lengths[round(q * (len(lengths) - 1))]

    return {
        "samples": len(lengths),
        "tokens": sum(lengths),
        "mean": sum(lengths) / len(lengths),
        "p50": quantile(0.5),
        "p99": quantile(0.99),
        "max": lengths[-1],
    }
