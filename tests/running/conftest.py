"""Fixtures for the cluster tests: a small CPU matrix and the fake trainer as a train command."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from tests.support.helpers import FAKE_TRAIN, HAND_MATRIX


def run_local(plans, *, results_path, leaderboard_path, progress, **options):
    """The planned cells on the local backend, driven and recorded as `packbench run` does."""
    from axolotl_packing_bench.running.backends.backend import BackendOptions, make_backend
    from axolotl_packing_bench.running.driver import Recorder, drive

    options.setdefault("runs_dir", Path("runs"))
    options["runs_dir"] = Path(options["runs_dir"])
    backend_options = BackendOptions(**options)
    recorder = Recorder(Path(results_path), Path(leaderboard_path) if leaderboard_path is not None else None)
    summary, _ = drive(
        plans, make_backend("local", backend_options), record=recorder, stop=backend_options.stop, progress=progress
    )
    return summary


CPU_RESOURCES = "resources:\n  default: {cpus: 1, gpus: 0}\n"
"""The hand matrix's models are labelled 1B/7B (one GPU each); on the test cluster they run on one CPU."""


def fake_train_command(plan: dict[str, str] | None = None, calls: Path | None = None) -> str:
    """`--train-command` text running the fake trainer with FAKE_TRAIN_PLAN (and FAKE_TRAIN_CALLS).

    The variables travel in the command (`env X=... python ...`), so Ray workers and
    Slurm tasks started before the test see them too. Braces are doubled for str.format.
    """
    parts = ["env"]
    if plan:
        parts.append("FAKE_TRAIN_PLAN=" + json.dumps(plan).replace("{", "{{").replace("}", "}}"))
    if calls:
        parts.append(f"FAKE_TRAIN_CALLS={calls}")
    parts += [sys.executable, str(FAKE_TRAIN), "{config}"]
    return shlex.join(parts)


@pytest.fixture
def cpu_matrix(tmp_path) -> Path:
    """The bench tests' hand matrix (6 cells), asking for one CPU and no GPU per cell."""
    path = tmp_path / "hand.yaml"
    path.write_text(HAND_MATRIX + CPU_RESOURCES)
    return path
