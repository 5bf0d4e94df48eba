"""A matrix with an `eval:` section: real training, real lm-eval, a judge on localhost."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from axolotl_packing_bench.cli import main
from axolotl_packing_bench.results.store import read_results
from tests.cli.test_run import REAL_MATRIX
from tests.eval.helpers import SECRET, completion, fake_judge, files_containing

EVAL_SECTION = """\
eval:
  preset: offline
  tasks: [packbench_facts_0shot]
  limit: 8
  batch_size: 4
  judge:
    base_url: {url}
    model: judge-test
    mode: pairwise
    prompts: offline:2
    max_new_tokens: 4
    cache: judge-cache.jsonl
"""


@pytest.mark.slow
def test_eval_section_puts_benchmark_and_judge_columns_on_the_leaderboard(tmp_path, monkeypatch):
    pytest.importorskip("lm_eval")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    # The judge prefers the first answer it is shown: both orders are asked, so every pair is a tie.
    with fake_judge(lambda n, body: (200, completion("[[A]]", 90, 3))) as server:
        (tmp_path / "m.yaml").write_text(REAL_MATRIX + EVAL_SECTION.format(url=server.url))
        result = CliRunner().invoke(main, ["run", "--matrix", "m.yaml"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = {r.axes["strategy"]: r for r in read_results(tmp_path / "leaderboard/results.jsonl")}
    for row in rows.values():
        task = row.scores["packbench_facts_0shot"]
        assert 0.0 <= task["value"] <= 1.0 and task["n"] == 8
        assert row.metric("training", "steps") > 0  # the training figures stay beside the scores
    judged = rows["greedy"].judge
    assert judged["mode"] == "pairwise" and judged["judged"] == 2 and judged["invalid"] == 0
    assert judged["tie"] == 2  # position bias cancelled: [[A]] in both orders is no win
    board = (tmp_path / "leaderboard/LEADERBOARD.md").read_text()
    assert "packbench_facts_0shot" in board
    assert files_containing(tmp_path, SECRET) == []
