"""Shared by the eval and CLI tests: fake run directories and a fake judge server."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SECRET = "sk-test-SECRET-123"


def make_run(
    root: Path,
    model_dir: str | Path,
    *,
    name: str,
    strategy: str = "padding",
    run_id: str | None = None,
    model: bool = True,
    seed: int = 0,
) -> Path:
    """A run output_dir: the tiny model's files (unless not ``model``) and plugin metrics."""
    path = root / name
    if model:
        shutil.copytree(model_dir, path)
    else:
        path.mkdir(parents=True)
    metrics = {
        "schema_version": 1,
        "run_id": run_id or f"run-{name}",
        "status": "ok",
        "strategy": strategy,
        "attention": "isolated",
        "model": {"path": "/models/tiny-8b", "parameters": 600_000},
        "dataset": {"paths": [f"/data/synth-69k-seed{seed}.jsonl"], "samples": 690},
        "packing": {"efficiency": 0.45 if strategy == "padding" else 0.97},
        "training": {"steps": 20, "runtime_s": 30.0 if strategy == "padding" else 12.0, "final_train_loss": 5.0},
    }
    (path / "packbench_metrics.json").write_text(json.dumps(metrics))
    return path


def completion(content: str, prompt_tokens: int = 50, completion_tokens: int = 5) -> dict[str, Any]:
    """A chat completion body as OpenAI returns it."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": "judge",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class FakeJudge:
    """What the fake server saw, and the replies it gives: ``respond(n, body) -> (status, json)``."""

    def __init__(self, respond: Callable[[int, dict], tuple[int, dict]], delay_s: float = 0.0):
        self.respond = respond
        self.delay_s = delay_s
        self.requests: list[dict] = []
        self.authorizations: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        self.url = ""


@contextmanager
def fake_judge(respond: Callable[[int, dict], tuple[int, dict]], *, delay_s: float = 0.0) -> Iterator[FakeJudge]:
    """An OpenAI-compatible /v1/chat/completions on 127.0.0.1, in a thread."""
    import time

    state = FakeJudge(respond, delay_s)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            with state.lock:
                number = len(state.requests)
                state.requests.append(body)
                state.authorizations.append(self.headers.get("Authorization", ""))
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
            try:
                time.sleep(state.delay_s)
                status, payload = state.respond(number, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            finally:
                with state.lock:
                    state.in_flight -= 1

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def files_containing(root: Path, needle: str) -> list[Path]:
    """Every file under ``root`` whose bytes contain ``needle``."""
    data = needle.encode()
    return [path for path in root.rglob("*") if path.is_file() and data in path.read_bytes()]
