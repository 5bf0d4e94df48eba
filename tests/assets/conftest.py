"""Every asset test builds under a temporary PACKBENCH_HOME, offline."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty asset cache for one test."""
    root = tmp_path / "home"
    monkeypatch.setenv("PACKBENCH_HOME", str(root))
    return root


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An asset root holding the tokenizer and every randomly initialized model, built once per session.

    The pre-trained bases ship built: tests/assets/test_shipping.py and test_bases.py cover them.
    """
    from axolotl_packing_bench.assets import MODELS, assets_root, ensure_model

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PACKBENCH_HOME", str(tmp_path_factory.mktemp("built")))
        for name, spec in MODELS.items():
            if spec.pretrain is None:
                ensure_model(name)
        return assets_root()
