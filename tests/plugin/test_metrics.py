"""The metrics file: a training error's message is redacted like every other string (issue 14, defect 8)."""

from __future__ import annotations

import json
from pathlib import Path

SECRET = "sk-abcdefghijklmnopqrstuvwxyz0123"


def test_one_line_error_is_redacted():
    from axolotl_packing_bench.plugin import _one_line

    error = RuntimeError(f"401 from the hub with token={SECRET}\nsecond line")
    line = _one_line(error)
    assert line == "RuntimeError: 401 from the hub with [REDACTED]"


def test_every_string_written_to_the_metrics_file_is_redacted(tmp_path: Path):
    from axolotl_packing_bench.plugin.metrics import RunMetrics

    path = tmp_path / "packbench_metrics.json"
    metrics = RunMetrics(path=path, strategy="bfd", attention="isolated", eval_strategy="bfd", capacity=64)
    metrics.update(model={"path": f"/models/{SECRET}", "parameters": 10}, dataset={"paths": [f"hf_{'a' * 30}.jsonl"]})
    metrics.finish(status="failed", error=f"ValueError: bad key {SECRET}")
    text = path.read_text()
    assert SECRET not in text and "hf_aaaa" not in text
    written = json.loads(text)
    assert written["status"] == "failed" and written["error"] == "ValueError: bad key [REDACTED]"
    assert written["model"]["parameters"] == 10


def test_a_failed_run_records_the_redacted_error_into_the_results(tmp_path: Path):
    from axolotl_packing_bench.plugin import _one_line
    from axolotl_packing_bench.plugin.metrics import RunMetrics
    from axolotl_packing_bench.results.record import result_from_run_dir

    metrics = RunMetrics(
        path=tmp_path / "packbench_metrics.json", strategy="bfd", attention="isolated", eval_strategy="bfd", capacity=64
    )
    metrics.update(packing={"rows": 1})
    metrics.finish(status="failed", error=_one_line(PermissionError(f"api_key: {SECRET} rejected")))
    result = result_from_run_dir(tmp_path)
    assert SECRET not in result.to_json() and SECRET not in json.dumps(result.metrics)
