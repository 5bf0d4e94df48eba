"""Fixtures for the bench tests: a small hand-written matrix."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.helpers import HAND_MATRIX


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
    return write_matrix(HAND_MATRIX, "hand.yaml")
