"""The judge against a real OpenAI-compatible server: `transformers serve` with the tiny model.

The tiny model's replies almost never hold a `[[verdict]]`, which exercises
the invalid path; the rerun exercises the cache (the server log counts the
requests it received). A planted API key reaches the server as a Bearer
token and is never written anywhere.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from axolotl_packing_bench.cli import main
from tests.eval.helpers import SECRET, files_containing, make_run

pytest.importorskip("openai")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

SERVE = Path(sys.executable).with_name("transformers")
READY_TIMEOUT_S = 240


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def requests_received(log: Path) -> int:
    return log.read_text(errors="replace").count("[Request received]")


@pytest.fixture(scope="module")
def served(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(base URL, server log) of `transformers serve` pinned to the tiny model, on CPU."""
    if not SERVE.exists():
        pytest.skip(f"{SERVE} not found")
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    with open(log, "w") as handle:
        process = subprocess.Popen(
            [
                str(SERVE),
                "serve",
                str(tiny_model),
                "--device",
                "cpu",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "info",
            ],
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"transformers serve exited with {process.returncode}: {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"transformers serve not ready after {READY_TIMEOUT_S}s: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/v1", log
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def judge(*args: str):
    return CliRunner().invoke(main, ["judge", *args], catch_exceptions=False)


@pytest.mark.slow
def test_real_server_invalid_replies_cache_and_secret(
    served, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from axolotl_packing_bench.eval.prompts import load_prompts
    from axolotl_packing_bench.results.store import read_results

    monkeypatch.setenv("PACKBENCH_JUDGE_KEY", SECRET)
    url, log = served
    runs = tmp_path / "runs"
    model = make_run(runs, tiny_model, name="random", strategy="random")
    padding = make_run(runs, tiny_model, name="padding", strategy="padding")
    prompts = load_prompts("offline:4")
    (padding / f"packbench_answers-{prompts.digest}.json").write_text(
        json.dumps(
            {
                "run_id": "run-padding",
                "prompt_set": prompts.name,
                "max_new_tokens": 8,
                "answers": [{"id": p.id, "answer": "I do not know."} for p in prompts.prompts],
            }
        )
    )
    options = [
        "--judge-base-url",
        url,
        "--judge-model",
        str(tiny_model),  # the server is pinned to this name
        "--api-key-env",
        "PACKBENCH_JUDGE_KEY",
        "--prompts",
        "offline:4",
        "--max-new-tokens",
        "8",
        "--judge-max-tokens",
        "12",
        "--concurrency",
        "2",
        "--cache",
        str(tmp_path / "cache.jsonl"),
        "--results",
        str(tmp_path / "lb" / "results.jsonl"),
        "--leaderboard",
        str(tmp_path / "lb" / "LEADERBOARD.md"),
    ]
    before = requests_received(log)
    absolute = judge(str(model), *options)
    assert absolute.exit_code == 0, absolute.output
    assert requests_received(log) - before == 4
    (row,) = read_results(tmp_path / "lb" / "results.jsonl")
    assert row.judge["judged"] + row.judge["invalid"] == 4 and row.judge["prompt_tokens"] > 0
    assert row.judge["completion_tokens"] <= 4 * 12

    rerun = judge(str(model), *options)
    assert rerun.exit_code == 0, rerun.output
    assert "0 sent, 0 retried, 0 failed, 4 cache hits" in rerun.output
    assert requests_received(log) - before == 4  # nothing reached the server

    pairwise = judge(str(model), str(padding), "--mode", "pairwise", *options)
    assert pairwise.exit_code == 0, pairwise.output
    assert requests_received(log) - before == 4 + 8  # both orders of each prompt
    (row,) = [r for r in read_results(tmp_path / "lb" / "results.jsonl") if r.run_id == "run-random"]
    assert row.judge["mode"] == "pairwise" and row.judge["judged"] + row.judge["invalid"] == 4
    print(absolute.output, pairwise.output, sep="\n")  # figures for the report (pytest -s)

    written = files_containing(tmp_path, SECRET) + ([log] if SECRET in log.read_text(errors="replace") else [])
    assert written == [] and SECRET not in absolute.output + rerun.output + pairwise.output
