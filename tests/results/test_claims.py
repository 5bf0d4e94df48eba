"""Per-cell claims on a results file: atomic, one holder, stale ones of this host taken over, released cleanly."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from axolotl_packing_bench.results.claims import Claim, claim, claim_path, claims_dir, ok_runs
from axolotl_packing_bench.results.store import RunResult, append_result

HOST = socket.gethostname()


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.fixture
def results(tmp_path: Path) -> Path:
    return tmp_path / "lb" / "results.jsonl"


def test_a_claim_is_one_file_beside_the_results_holding_host_pid_and_start(results):
    held = claim(results, "cell-a", 1)
    assert isinstance(held, Claim)
    assert held.path == results.parent / ".results.jsonl.claims" / "cell-a#1"
    host, pid, started = held.path.read_text().split()
    assert (host, int(pid)) == (HOST, os.getpid()) and started.startswith("20")
    held.release()
    assert not held.path.exists()
    held.release()  # a missing claim is fine


def test_a_live_claim_is_refused_with_its_holder_and_other_cells_and_repeats_stay_free(results):
    first = claim(results, "cell-a", 0)
    assert isinstance(first, Claim)
    second = claim(results, "cell-a", 0)
    assert isinstance(second, str) and f"pid {os.getpid()} on {HOST}" in second
    assert isinstance(claim(results, "cell-a", 1), Claim)
    assert isinstance(claim(results, "cell-b", 0), Claim)
    first.release()
    assert isinstance(claim(results, "cell-a", 0), Claim)


def test_a_symlinked_results_path_shares_the_claims_of_its_target(results, tmp_path):
    results.parent.mkdir(parents=True)
    results.write_text("")
    link = tmp_path / "link.jsonl"
    link.symlink_to(results)
    assert claims_dir(link) == claims_dir(results)
    assert isinstance(claim(results, "cell-a"), Claim)
    assert isinstance(claim(link, "cell-a"), str)


def test_a_stale_claim_of_this_host_is_taken_over(results):
    path = claim_path(results, "cell-a", 0)
    path.parent.mkdir(parents=True)
    path.write_text(f"{HOST} {dead_pid()} 2026-01-01T00:00:00+00:00\n")
    held = claim(results, "cell-a", 0)
    assert isinstance(held, Claim)
    assert path.read_text().split()[:2] == [HOST, str(os.getpid())]


def test_only_one_of_many_takers_of_a_stale_claim_wins(results):
    path = claim_path(results, "cell-a", 0)
    path.parent.mkdir(parents=True)
    path.write_text(f"{HOST} {dead_pid()} 2026-01-01T00:00:00+00:00\n")
    outcomes: list[Claim | str] = []
    barrier = threading.Barrier(8)

    def take() -> None:
        barrier.wait()
        outcomes.append(claim(results, "cell-a", 0))

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(isinstance(outcome, Claim) for outcome in outcomes) == 1
    assert all(f"pid {os.getpid()}" in outcome for outcome in outcomes if isinstance(outcome, str))


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("gpu-node-17 4242 2026-01-01T00:00:00+00:00\n", "pid 4242 on gpu-node-17 since 2026-01-01T00:00:00+00:00"),
        ("", "an unknown process"),
    ],
)
def test_a_claim_of_another_host_or_an_unreadable_one_counts_as_live_and_names_the_file_to_remove(
    results, content, said
):
    path = claim_path(results, "cell-a", 0)
    path.parent.mkdir(parents=True)
    path.write_text(content)
    holder = claim(results, "cell-a", 0)
    assert isinstance(holder, str) and said in holder and f"remove {path}" in holder
    assert "\n" not in holder
    assert path.read_text() == content


def test_ok_runs_are_the_latest_ok_repeats(results):
    assert ok_runs(results) == set()
    results.parent.mkdir(parents=True)
    ok = RunResult(run_id="r1", matrix="m", cell_id="c", repeat=0, status="ok", axes={}, metrics={})
    append_result(results, ok)
    append_result(results, ok.replace(run_id="r2", repeat=1, status="failed", reason="crashed"))
    assert ok_runs(results) == {("m", "c", 0)}
