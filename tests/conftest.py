"""Test-wide settings: offline, no telemetry, and assets built in a private cache."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests.support.helpers import HAND_MATRIX

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["AXOLOTL_DO_NOT_TRACK"] = "1"
os.environ["WANDB_MODE"] = "disabled"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
# `packbench run` validates first; the runner's tests use made-up model and data paths, so the
# tests of that check (tests/cli/test_run.py) turn it on with --validate.
os.environ.setdefault("PACKBENCH_VALIDATE", "0")
# Assets built by the suite live apart from a user's own cache.
os.environ.setdefault("PACKBENCH_HOME", tempfile.mkdtemp(prefix="packbench-tests-"))

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real SFT samples in ../shared/data, or a skip saying where they were looked for."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real SFT data not found at {SHARED_DATA}; place the shared/ folder beside the project")
    return SHARED_DATA


@pytest.fixture
def write_matrix(tmp_path):
    """Write matrix text into tmp_path/<name>.yaml and return its path."""

    def write(text: str, name: str = "matrix.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


@pytest.fixture
def hand_matrix(write_matrix) -> Path:
    """The hand-written two-model matrix of `tests.support.helpers`."""
    return write_matrix(HAND_MATRIX, "hand.yaml")
