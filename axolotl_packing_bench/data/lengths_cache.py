"""Tokenized chat datasets, cached so the second look at a dataset is as fast as a lengths file.

Entries live under `$PACKBENCH_HOME/lengths-cache/`, named by a key: the
sha256 of the dataset's bytes and of the tokenizer (the files of a local
tokenizer folder, chat template included; for a hub id, the loaded
tokenizer's vocabulary, rules, special tokens and template). A change to any
of them is a new key. `<key>-tokens.npz` holds the token ids and lengths;
other arrays derived from them (e.g. groups) sit beside it. Entries are
written atomically (temporary file, then rename), so a reader never sees half
of one; a cache that cannot be written only costs the next look its speed.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

CACHE_DIR = "lengths-cache"
KEY_VERSION = "1"
"""Bump when the way samples are tokenized changes, so old entries are not reused."""


def cache_dir() -> Path:
    from axolotl_packing_bench.assets.cache import packbench_home

    return packbench_home() / CACHE_DIR


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def folder_digest(folder: Path) -> str:
    """sha256 of a tokenizer folder's files (names and bytes; weights and subfolders left out)."""
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix not in (".safetensors", ".bin", ".pt", ".gguf"):
            digest.update(path.name.encode() + b"\0" + file_digest(path).encode())
    return digest.hexdigest()


def tokenizer_digest(tokenizer: Any) -> str:
    """What decides a loaded tokenizer's counts: its vocabulary and rules, special tokens and chat template."""
    digest = hashlib.sha256()
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None and hasattr(backend, "to_str"):
        digest.update(backend.to_str().encode())
    else:  # a slow tokenizer: its class, name and vocabulary
        digest.update(f"{type(tokenizer).__name__}|{getattr(tokenizer, 'name_or_path', '')}".encode())
        digest.update(repr(sorted(tokenizer.get_vocab().items())).encode())
    digest.update(
        repr(sorted((str(k), str(v)) for k, v in getattr(tokenizer, "special_tokens_map", {}).items())).encode()
    )
    digest.update(str(getattr(tokenizer, "chat_template", None) or "").encode())
    return digest.hexdigest()


def entry_key(dataset: Path, tokenizer: str) -> str:
    """The cache key of a dataset read with a tokenizer (`tokenizer`: one of the digests above)."""
    return hashlib.sha256(f"{KEY_VERSION}|{file_digest(dataset)}|{tokenizer}".encode()).hexdigest()[:32]


def cached_arrays(
    key: str, name: str, compute: Callable[[], dict[str, np.ndarray]]
) -> tuple[dict[str, np.ndarray], bool]:
    """(the arrays of entry `<key>-<name>`, whether they came from the cache); `compute()` runs on a miss."""
    path = cache_dir() / f"{key}-{name}.npz"
    try:
        with np.load(path, allow_pickle=False) as entry:
            return {field: entry[field] for field in entry.files}, True
    except (OSError, ValueError, EOFError):
        pass  # not there yet, or unreadable: compute again and rewrite it
    arrays = compute()
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{name}-", suffix=".npz", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(temporary, path)
    except OSError:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
    return arrays, False
