"""`packbench judge` against an in-process OpenAI-compatible fake: verdicts, cache, secrets, bad input.

The real-server test (`transformers serve` with the tiny model) is in
tests/eval/test_judge_serve.py; here the judge's replies are scripted.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from axolotl_packing_bench.cli import main
from axolotl_packing_bench.report.leaderboard import render_leaderboard
from tests.eval.helpers import SECRET, completion, fake_judge, files_containing, make_run

pytest.importorskip("openai")
pytest.importorskip("transformers")


@pytest.fixture(autouse=True)
def judge_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)


QUESTIONS: list[str] = []  # the offline:3 prompts, which the fake judge answers per question


@pytest.fixture(autouse=True)
def questions() -> None:
    from axolotl_packing_bench.eval.prompts import load_prompts

    QUESTIONS[:] = [p.prompt for p in load_prompts("offline:3").prompts]


def judge(*args: str):
    return CliRunner().invoke(main, ["judge", *args], catch_exceptions=False)


def test_help_names_the_key_variable_not_a_key():
    result = judge("--help")
    assert (
        result.exit_code == 0
        and "--api-key-env TEXT" in result.output
        and "--mode [absolute|pairwise]" in result.output
    )


def common(url: str, tmp_path: Path) -> list[str]:
    return [
        "--judge-base-url",
        url,
        "--judge-model",
        "gpt-test",
        "--prompts",
        "offline:3",
        "--max-new-tokens",
        "6",
        "--cache",
        str(tmp_path / "judge-cache.jsonl"),
        "--results",
        str(tmp_path / "lb" / "results.jsonl"),
        "--leaderboard",
        str(tmp_path / "lb" / "LEADERBOARD.md"),
    ]


def test_absolute_verdicts_cache_and_no_secret_anywhere(tiny_model: Path, tmp_path: Path):
    from axolotl_packing_bench.results.store import read_results

    run_dir = make_run(tmp_path / "runs", tiny_model, name="bfd", strategy="bfd")
    replies = ["Accurate. Rating: [[8]]", "theisk Mytoubrym [[", "Rating: [[11]]"]  # one valid, two invalid

    def respond(n: int, body: dict):
        question = body["messages"][-1]["content"]
        index = next(i for i, q in enumerate(QUESTIONS) if q in question)
        return 200, completion(replies[index], 100, 10)

    with fake_judge(respond) as server:
        first = judge(
            str(run_dir), *common(server.url, tmp_path), "--price-per-1k-input", "0.5", "--price-per-1k-output", "1.5"
        )
        assert first.exit_code == 0, first.output
        assert len(server.requests) == 3 and all(a == f"Bearer {SECRET}" for a in server.authorizations)
        again = judge(str(run_dir), *common(server.url, tmp_path))
        assert again.exit_code == 0, again.output
        assert len(server.requests) == 3  # the rerun sent nothing
    assert "mean rating 8.00 over 1 judged, 2 invalid; 300+30 tokens, $0.1950" in first.output
    assert "judge requests: 3 sent, 0 retried, 0 failed, 0 cache hits" in first.output
    assert "judge requests: 0 sent, 0 retried, 0 failed, 3 cache hits; 0+0 new tokens" in again.output

    (row,) = read_results(tmp_path / "lb" / "results.jsonl")
    assert row.judge["mean_score"] == 8.0 and (row.judge["judged"], row.judge["invalid"]) == (1, 2)
    assert (
        row.judge["mode"] == "absolute" and row.judge["judge_model"] == "gpt-test" and row.judge["prompt_tokens"] == 300
    )
    report = json.loads((run_dir / "packbench_judge.json").read_text())
    assert [item["verdict"] for item in report["items"]] == [8.0, None, None]
    assert report["items"][2]["problems"] == ["rating 11 outside 1-10"]
    assert list(run_dir.glob("packbench_answers-*.json"))  # answers kept for the next judge
    assert "| 8.00 |" in (tmp_path / "lb" / "LEADERBOARD.md").read_text()  # the narrow board: the score alone
    assert "8.00 [1 judged, 2 invalid]" in render_leaderboard([row], wide=True)
    assert SECRET not in first.output + again.output
    assert files_containing(tmp_path, SECRET) == []


def test_pairwise_against_the_padding_run_in_both_orders(tiny_model: Path, tmp_path: Path):
    from axolotl_packing_bench.eval.prompts import load_prompts

    runs = tmp_path / "runs"
    model = make_run(runs, tiny_model, name="greedy", strategy="greedy")
    padding = make_run(runs, tiny_model, name="padding", strategy="padding")
    prompts = load_prompts("offline:3")
    # The padding run's answers, as `generate` saves them: judging reuses them.
    (padding / f"packbench_answers-{prompts.digest}.json").write_text(
        json.dumps(
            {
                "run_id": "run-padding",
                "prompt_set": prompts.name,
                "max_new_tokens": 6,
                "answers": [{"id": p.id, "answer": "I do not know."} for p in prompts.prompts],
            }
        )
    )

    def respond(n: int, body: dict):
        text = body["messages"][-1]["content"]
        index = next(i for i, q in enumerate(QUESTIONS) if q in text)
        padding_first = bool(re.search(r"\[Answer of assistant A\]\nI do not know\.", text))
        if index == 0:  # the model is better in both orders: a win
            return 200, completion("[[B]]" if padding_first else "[[A]]")
        if index == 1:  # always "A": position bias, so a tie
            return 200, completion("[[A]]")
        return 200, completion("no verdict" if padding_first else "[[A]]")  # one order unusable: invalid

    with fake_judge(respond) as server:
        result = judge(
            str(padding), str(model), "--mode", "pairwise", "--concurrency", "2", *common(server.url, tmp_path)
        )
    assert result.exit_code == 0, result.output
    assert len(server.requests) == 6
    assert "greedy: win/tie/loss 1/1/0 over 2 judged, 1 invalid" in result.output
    assert not (padding / "packbench_judge.json").exists()  # the baseline is not compared with itself
    verdict = json.loads((model / "packbench_judge.json").read_text())["judge"]
    assert verdict["baseline_run_id"] == "run-padding" and verdict["mean_score"] is None


def test_judge_down_is_one_sentence(tiny_model: Path, tmp_path: Path):
    run_dir = make_run(tmp_path, tiny_model, name="pad")
    with fake_judge(lambda n, b: (401, {"error": {"message": f"Incorrect API key provided: {SECRET}"}})) as server:
        result = judge(str(run_dir), *common(server.url, tmp_path), "--max-retries", "0")
    assert result.exit_code == 1
    message = result.output.strip().splitlines()[-1]
    assert message.startswith(
        f"Error: the judge at {server.url} failed every request (is $OPENAI_API_KEY set and valid?)"
    )
    assert SECRET not in result.output and files_containing(tmp_path, SECRET) == []


def one_sentence_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    message = result.output.strip()
    assert message.startswith("Error: ") and "\n" not in message and message.endswith("."), message
    for fragment in fragments:
        assert fragment in message, message


def test_bad_input(tiny_model: Path, tmp_path: Path):
    url = ["--judge-base-url", "http://127.0.0.1:9/v1", "--judge-model", "m"]
    one_sentence_error(judge(str(tmp_path / "nope"), *url), "does not exist")
    empty = make_run(tmp_path, tiny_model, name="no-model", model=False)
    one_sentence_error(judge(str(empty), *url), "holds no saved model")
    run_dir = make_run(tmp_path, tiny_model, name="greedy", strategy="greedy")
    one_sentence_error(
        judge(str(run_dir), *url, "--prompts", str(tmp_path / "missing.jsonl")), "prompt file", "does not exist"
    )
    (tmp_path / "bad.jsonl").write_text('{"prompt": "hi"}\n{"question": "no prompt"}\n')
    one_sentence_error(
        judge(str(run_dir), *url, "--prompts", str(tmp_path / "bad.jsonl")), "line 2 has no `prompt` string"
    )
    (tmp_path / "torn.jsonl").write_text('{"prompt": "hi"}\n{"prompt": \n')
    one_sentence_error(
        judge(str(run_dir), *url, "--prompts", str(tmp_path / "torn.jsonl")),
        "line 2 of",
        "torn.jsonl is not valid JSON",
    )
    one_sentence_error(judge(str(run_dir), *url, "--prompts", "offline:x"), "offline:N")
    one_sentence_error(judge(str(run_dir), *url, "--mode", "pairwise"), "needs the padding run", "--baseline")
    missing = CliRunner().invoke(main, ["judge", str(run_dir)], catch_exceptions=False)
    assert missing.exit_code == 2 and "--judge-base-url" in missing.output


def test_refusals_of_issue_14(tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Defects 2 and 7: a non-UTF-8 prompt file, an unset --api-key-env and offline:0 each stop with one sentence."""
    monkeypatch.delenv("PACKBENCH_JUDGE_KEY", raising=False)
    url = [
        "--judge-base-url",
        "http://127.0.0.1:9/v1",
        "--judge-model",
        "m",
        "--results",
        str(tmp_path / "results.jsonl"),
        "--leaderboard",
        str(tmp_path / "L.md"),
    ]
    run_dir = make_run(tmp_path, tiny_model, name="bfd", strategy="bfd")
    latin1 = tmp_path / "latin1.jsonl"
    latin1.write_bytes('{"prompt": "caf\xe9?"}\n'.encode("latin-1"))
    one_sentence_error(
        judge(str(run_dir), *url, "--prompts", str(latin1)),
        f"{latin1} is not UTF-8 text (byte 0xe9 at offset 15); save it as UTF-8.",
    )
    one_sentence_error(
        judge(str(run_dir), *url, "--api-key-env", "PACKBENCH_JUDGE_KEY"),
        "API key variable PACKBENCH_JUDGE_KEY is not set",
        "export PACKBENCH_JUDGE_KEY",
    )
    one_sentence_error(judge(str(run_dir), *url, "--prompts", "offline:0"), "--prompts offline:0 selects no prompts")
    assert not (tmp_path / "results.jsonl").exists() and not (tmp_path / "L.md").exists()


def test_the_same_non_utf8_file_reads_the_same_in_stats_and_judge(tmp_path: Path):
    """One reader: `stats` and `judge` say the same sentence about the same file."""
    from axolotl_packing_bench.data.lengths import LengthsInputError, read_records
    from axolotl_packing_bench.eval.errors import EvalError
    from axolotl_packing_bench.eval.prompts import load_prompts

    path = tmp_path / "latin1.jsonl"
    path.write_bytes('{"prompt": "caf\xe9?"}\n'.encode("latin-1"))
    with pytest.raises(EvalError) as judged:
        load_prompts(path)
    with pytest.raises(LengthsInputError) as counted:
        read_records(path)
    assert (
        str(judged.value)
        == str(counted.value)
        == f"{path} is not UTF-8 text (byte 0xe9 at offset 15); save it as UTF-8."
    )
