"""The schema check of a matrix: once per recipe shape, finding what a check of every cell finds."""

from __future__ import annotations

from pathlib import Path

from axolotl_packing_bench.matrix.problems import Problem
from axolotl_packing_bench.matrix.schema import _schema_classes, check_cell, check_cells
from axolotl_packing_bench.matrix.spec import expand, load_matrix

MATRIX = """\
name: shapes
base:
  sequence_len: 256
  micro_batch_size: 2
  num_epochs: 1
  optimizer: adamw_torch
  warmup_ratio: 0.1
  lr_scheduler: cosine
  weight_decay: 0.0
axes:
  model:
    - {name: small, path: /models/small, size: 1B}
  dataset:
    - {name: chats, size: 1K, datasets: [{path: /data/chats.jsonl, ds_type: json, type: chat_template}]}
    - {name: typo, size: 1K, datasets: [{path: /data/chats.jsonl, ds_type: json, type: chat_template, feld: x}]}
  strategy: [padding, greedy, native]
  attention: [isolated]
  warmup_steps: [0, 3]          # 3 breaks a cross-key rule, which hides the field errors, as in Axolotl
  seed: [0, "x"]
  learning_rate: [1.0e-3, [1]]
"""


def every_cell(matrix, cells) -> list[Problem]:
    """The reference: each cell checked on its own, counts summed."""
    classes = _schema_classes(sorted({p for cell in cells for p in cell.config.get("plugins") or []}))
    counts: dict[Problem, int] = {}
    for cell in cells:
        for problem in dict.fromkeys(check_cell(matrix, cell, classes)):
            counts[problem] = counts.get(problem, 0) + 1
    return [Problem(p.file, p.key, p.message, p.fix, cells=n) for p, n in counts.items()]


def test_grouped_check_finds_what_every_cell_finds(tmp_path: Path):
    path = tmp_path / "m.yaml"
    path.write_text(MATRIX)
    matrix = load_matrix(path)
    cells = expand(matrix)
    assert len(cells) == 2 * 3 * 2 * 2 * 2
    grouped = check_cells(matrix, cells)
    reference = every_cell(matrix, cells)
    assert sorted(map(str, grouped)) == sorted(map(str, reference))
    shown = "\n".join(map(str, grouped))
    for part in (
        "axes.learning_rate: ",
        "axes.seed: ",
        "unknown dataset key",
        "warmup_steps and warmup_ratio are mutually exclusive (24 cells)",
    ):
        assert part in shown


def test_progress_line_past_a_few_seconds(tmp_path: Path, monkeypatch):
    from axolotl_packing_bench.matrix import schema

    monkeypatch.setattr(schema, "PROGRESS_AFTER_S", 0.0)
    path = tmp_path / "m.yaml"
    path.write_text(MATRIX)
    matrix = load_matrix(path)
    lines: list[str] = []
    check_cells(matrix, expand(matrix)[:6], progress=lines.append)
    assert lines and all(line.startswith("validate: ") for line in lines)
    assert any(" schema checks done (" in line for line in lines)
