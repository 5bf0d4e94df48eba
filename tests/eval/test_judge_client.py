"""Retries, backoff, concurrency, cache and key hygiene of the judge client (fake server)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from axolotl_packing_bench.eval.errors import EvalError
from axolotl_packing_bench.eval.judge_client import JudgeCache, JudgeClient, JudgeRequest
from tests.eval.helpers import SECRET, completion, fake_judge, files_containing

pytest.importorskip("openai")


def request(prompt: str = "What is the river of Belmora?", answer: str = "Selune.") -> JudgeRequest:
    return JudgeRequest("absolute", "absolute-v1", prompt, (answer,), None, (("user", f"{prompt} {answer}"),))


def client(url: str, tmp_path: Path, **options) -> tuple[JudgeClient, list[float]]:
    sleeps: list[float] = []
    options.setdefault("cache", tmp_path / "cache.jsonl")
    return JudgeClient(url, "judge", backoff_s=0.01, timeout_s=10, sleep=sleeps.append, **options), sleeps


def test_retries_500_twice_then_succeeds_with_exponential_backoff(tmp_path: Path):
    def respond(n: int, body: dict):
        return (500, {"error": {"message": "overloaded"}}) if n < 2 else (200, completion("Rating: [[8]]", 40, 6))

    with fake_judge(respond) as server:
        judge, sleeps = client(server.url, tmp_path, max_retries=3)
        reply = judge.ask(request())
    assert reply.text == "Rating: [[8]]" and reply.error is None and not reply.cached
    assert (reply.prompt_tokens, reply.completion_tokens) == (40, 6)
    assert len(server.requests) == 3
    assert judge.stats.as_dict() == {
        "requests": 3,
        "retries": 2,
        "cache_hits": 0,
        "failed": 0,
        "prompt_tokens": 40,
        "completion_tokens": 6,
    }
    assert len(sleeps) == 2 and 0.01 <= sleeps[0] <= 0.012 and 0.02 <= sleeps[1] <= 0.024  # doubles, with jitter
    assert server.requests[0]["temperature"] == 0 and server.requests[0]["model"] == "judge"


def test_429_is_retried_but_400_is_not(tmp_path: Path):
    with fake_judge(
        lambda n, b: (429, {"error": {"message": "slow down"}}) if n == 0 else (200, completion("[[5]]"))
    ) as server:
        judge, _ = client(server.url, tmp_path / "a", max_retries=2)
        assert judge.ask(request()).text == "[[5]]"
    with fake_judge(lambda n, b: (400, {"error": {"message": "bad request"}})) as server:
        judge, sleeps = client(server.url, tmp_path / "b", max_retries=5)
        reply = judge.ask(request())
    assert len(server.requests) == 1 and sleeps == []
    assert reply.text is None and "HTTP 400" in reply.error and judge.stats.failed == 1


def test_gives_up_after_max_retries_and_says_so_in_one_sentence(tmp_path: Path):
    with fake_judge(lambda n, b: (503, {"error": {"message": "unavailable"}})) as server:
        judge, sleeps = client(server.url, tmp_path, max_retries=2)
        with pytest.raises(EvalError) as error:
            judge.ask_all([request("q1"), request("q2")])
    assert len(server.requests) == 6 and len(sleeps) == 4
    message = str(error.value)
    assert message.startswith(f"the judge at {server.url} failed every request") and message.endswith(".")
    assert "\n" not in message


def test_connection_refused_is_retried_then_fails(tmp_path: Path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    judge, sleeps = client(f"http://127.0.0.1:{port}/v1", tmp_path, max_retries=1)
    with pytest.raises(EvalError, match="failed every request"):
        judge.ask_all([request()])
    assert judge.stats.retries == 1 and len(sleeps) == 1


def test_cache_makes_a_rerun_free_and_counts_hits(tmp_path: Path):
    with fake_judge(lambda n, b: (200, completion(f"Rating: [[{n + 1}]]", 30, 4))) as server:
        first, _ = client(server.url, tmp_path)
        replies = first.ask_all([request("q1"), request("q2"), request("q3")])
        assert len(server.requests) == 3 and first.stats.cache_hits == 0
        second, _ = client(server.url, tmp_path)  # a new process would load the same file
        again = second.ask_all([request("q1"), request("q2"), request("q3")])
        assert len(server.requests) == 3  # nothing sent
    assert second.stats.cache_hits == 3 and second.stats.requests == 0
    assert [r.text for r in again] == [r.text for r in replies] and all(r.cached for r in again)
    assert sum(r.prompt_tokens for r in again) == 90  # usage remembered: the judgment's tokens, not this run's
    lines = (tmp_path / "cache.jsonl").read_text().splitlines()
    assert len(lines) == 3 and {"key", "reply", "usage", "judge_model", "mode", "rubric"} <= set(json.loads(lines[0]))


def test_cache_key_covers_model_answer_mode_and_rubric():
    base = request()
    assert base.key("judge", 100) == request().key("judge", 100)
    others = [
        base.key("other-judge", 100),
        base.key("judge", 200),
        request(answer="Vrustathur.").key("judge", 100),
        request(prompt="Another?").key("judge", 100),
        JudgeRequest("pairwise", "absolute-v1", base.prompt, base.answers, None, base.messages).key("judge", 100),
        JudgeRequest("absolute", "absolute-v2", base.prompt, base.answers, None, base.messages).key("judge", 100),
    ]
    assert len({base.key("judge", 100), *others}) == 7


def test_torn_cache_line_is_skipped(tmp_path: Path):
    path = tmp_path / "cache.jsonl"
    path.write_text('{"key": "abc", "reply": "[[3]]", "usage": {}}\n{"key": "torn')
    assert len(JudgeCache(path)) == 1


def test_concurrency_limit(tmp_path: Path):
    with fake_judge(lambda n, b: (200, completion("[[5]]")), delay_s=0.3) as server:
        judge, _ = client(server.url, tmp_path, concurrency=2)
        judge.ask_all([request(f"q{i}") for i in range(6)])
    assert server.max_in_flight == 2


def test_key_is_sent_but_never_written_even_when_the_server_echoes_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("JUDGE_KEY", SECRET)

    def respond(n: int, body: dict):
        if "echo" in body["messages"][0]["content"]:
            return 200, completion(f"your key is {SECRET} [[6]]")
        return 401, {"error": {"message": f"Incorrect API key provided: {SECRET}.", "type": "invalid_request_error"}}

    with fake_judge(respond) as server:
        judge, _ = client(server.url, tmp_path, api_key_env="JUDGE_KEY")
        echoed = judge.ask(request("echo"))
        with pytest.raises(EvalError) as error:
            judge.ask_all([request("q")])
    assert server.authorizations[0] == f"Bearer {SECRET}"  # the key does reach the endpoint
    assert SECRET not in str(error.value) and "HTTP 401" in str(error.value) and "$JUDGE_KEY" in str(error.value)
    assert SECRET not in (echoed.text or "") and "[[6]]" in echoed.text
    assert files_containing(tmp_path, SECRET) == []
