"""Eval tests run offline on the embedded tiny model."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    pytest.importorskip("transformers")
    from axolotl_packing_bench.assets import ensure_model

    return ensure_model("tiny-8b-init")
