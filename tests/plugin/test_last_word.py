"""The plugin's own sentence is the last line of a run it stops (issue 14, defects 3 and 11)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

PROJECT = Path(__file__).parents[2]


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=PROJECT, timeout=300
    )


def test_a_config_error_ends_the_output_with_the_plugins_sentence():
    result = run_python("""
        from axolotl_packing_bench.plugin.args import PLUGIN_PATH, PackingBenchArgs
        try:  # a caught error (as `packbench validate` catches it) is not repeated
            PackingBenchArgs.model_validate({"plugins": [PLUGIN_PATH], "packbench_strategy": "tetris"})
        except ValueError:
            pass
        PackingBenchArgs.model_validate({"plugins": [PLUGIN_PATH], "packbench_strategy": "native",
                                         "packbench_overflow": "split"})
    """)
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "tetris" not in result.stderr
    assert result.stderr.rstrip().splitlines()[-1] == (
        "packbench error: packbench_strategy: native hands packing to Axolotl's sample_packing, which ignores "
        "packbench_overflow; remove it."
    )
    from axolotl_packing_bench.running.trainlog import last_error_line

    # the runner's reason for the cell is the plugin's sentence, not pydantic's "1 validation error for ..."
    assert last_error_line(result.stderr).startswith("packbench error: packbench_strategy: native hands packing")


def test_a_bad_dataset_line_stops_the_cell_naming_file_and_line(tmp_path: Path):
    data = tmp_path / "chats.jsonl"
    data.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n{broken\n")
    result = run_python(f"""
        from axolotl_packing_bench.compat.axolotl_api import DictDefault
        from axolotl_packing_bench.plugin import _one_line
        from axolotl_packing_bench.plugin.datasets import load_packed_datasets
        cfg = DictDefault({{"datasets": [{{"path": {str(data)!r}, "type": "chat_template"}}]}})
        try:
            load_packed_datasets(cfg)
        except Exception as error:
            print(_one_line(error))  # what the plugin records as the run's error
            raise
    """)
    sentence = (
        f"line 2 of {data} is not valid JSON (Expecting property name enclosed in double quotes); "
        "write one JSON object per line."
    )
    assert result.returncode == 1
    assert result.stdout.strip() == f"DatasetFileError: {sentence}"
    assert result.stderr.rstrip().splitlines()[-1] == f"packbench error: {sentence}"
