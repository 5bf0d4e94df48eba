"""The cache (location, reuse, rebuild, atomic writes) and packbench:// URIs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from axolotl_packing_bench.assets import (
    DATASETS,
    RECIPE_VERSION,
    assets_root,
    dataset_stats,
    ensure_dataset,
    ensure_heldout,
    resolve_asset_uri,
)
from axolotl_packing_bench.assets.cache import build_once


def test_cache_root_follows_packbench_home(home: Path, monkeypatch: pytest.MonkeyPatch):
    assert assets_root() == home / f"assets-v{RECIPE_VERSION}"
    monkeypatch.delenv("PACKBENCH_HOME")
    monkeypatch.setenv("HOME", str(home / "user"))
    assert assets_root() == home / "user" / ".cache" / "axolotl-packing-bench" / f"assets-v{RECIPE_VERSION}"


def test_dataset_built_once_then_reused_and_rebuilt_on_request(home: Path):
    path = ensure_dataset("synth-69k")
    assert path == assets_root() / "datasets" / "synth-69k-seed0.jsonl"
    assert dataset_stats(path)["samples"] == DATASETS["synth-69k"].samples
    path.write_text("stale\n")
    assert ensure_dataset("synth-69k").read_text() == "stale\n"
    assert ensure_dataset("synth-69k", rebuild=True).read_text() != "stale\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["synth-69k-seed0.jsonl"]


def test_sample_count_seed_and_overlong_datasets(home: Path):
    path = ensure_dataset(40, seed=2, overlong_fraction=0.5)
    assert path.name == "synth-n40-seed2-overlong0.5.jsonl"
    stats = dataset_stats(path)
    assert stats["samples"] == 40 and stats["max"] > 500
    assert ensure_dataset("40", seed=2) != path


def test_unknown_dataset_lists_valid_names(home: Path):
    with pytest.raises(ValueError, match="synth-69k, synth-326k, synth-652k, synth-1.2m"):
        ensure_dataset("synth-9k")
    with pytest.raises(ValueError, match="positive"):
        ensure_dataset(0)


def test_heldout_file(home: Path):
    rows = [json.loads(line) for line in ensure_heldout(seed=0).read_text().splitlines()]
    fields = {
        "question",
        "answer",
        "topic",
        "conflicting_answer",
        "related_context",
        "conflicting_context",
    }
    assert rows and all(fields | {"unrelated_context"} <= set(row) for row in rows)


def test_failed_build_leaves_nothing_behind(home: Path):
    target = assets_root() / "datasets" / "broken.jsonl"

    def build(path: Path) -> None:
        path.write_text("half")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        build_once(target, build)
    assert list(target.parent.iterdir()) == []


def test_rebuild_replaces_a_directory(home: Path):
    target = assets_root() / "things" / "dir"

    def build(content: str):
        def write(path: Path) -> None:
            path.mkdir()
            (path / "file").write_text(content)

        return write

    build_once(target, build("one"))
    build_once(target, build("two"))
    assert (target / "file").read_text() == "one"
    build_once(target, build("two"), rebuild=True)
    assert (target / "file").read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["dir"]


class TestResolveAssetUri:
    def test_maps_datasets_and_heldout(self, home: Path):
        assert resolve_asset_uri("packbench://dataset/synth-69k") == str(
            assets_root() / "datasets/synth-69k-seed0.jsonl"
        )
        assert resolve_asset_uri("packbench://dataset/25?seed=3") == str(
            assets_root() / "datasets/synth-n25-seed3.jsonl"
        )
        assert resolve_asset_uri("packbench://heldout?seed=1") == str(assets_root() / "datasets/heldout-seed1.jsonl")

    def test_maps_models_and_tokenizer(self, built: Path, monkeypatch: pytest.MonkeyPatch):
        monkeypatch.setenv("PACKBENCH_HOME", str(built.parent))
        assert resolve_asset_uri("packbench://model/tiny-8b-init") == str(built / "models" / "tiny-8b-init")
        assert resolve_asset_uri("packbench://tokenizer") == str(built / "tokenizer")

    @pytest.mark.parametrize("value", ["meta-llama/Llama-3.1-8B", "/data/x.jsonl", "", "https://x/y"])
    def test_other_strings_unchanged(self, value: str, home: Path):
        assert resolve_asset_uri(value) == value
        assert not home.exists()

    @pytest.mark.parametrize(
        ("uri", "names"),
        [
            ("packbench://model/tiny-9b", "tiny-8b, tiny-70b, tiny-8b-init, tiny-70b-init"),
            ("packbench://dataset/synth-1k", "synth-69k"),
            ("packbench://weights/x", "packbench://model/<tiny-8b|tiny-70b|tiny-8b-init|tiny-70b-init>"),
            ("packbench://dataset/synth-69k?sed=1", "seed, overlong"),
            ("packbench://dataset/synth-69k?seed=x", "seed must be an integer"),
        ],
    )
    def test_unknown_names_list_valid_ones(self, uri: str, names: str, home: Path):
        with pytest.raises(ValueError, match=re.escape(names)):
            resolve_asset_uri(uri)


def test_import_is_cheap():
    code = "import sys, axolotl_packing_bench.assets; print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"
