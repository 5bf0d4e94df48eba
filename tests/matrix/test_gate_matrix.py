"""The gate matrix gates quality and numerics too: every cell scores the held-out chats and checks equivalence."""

from __future__ import annotations

from pathlib import Path

from axolotl_packing_bench.matrix.spec import expand, load_matrix

GATE = Path(__file__).resolve().parents[2] / "recipes" / "matrices" / "gate.yaml"


def test_every_gate_cell_runs_the_equivalence_check_and_the_heldout_loss():
    cells = expand(load_matrix(GATE))
    assert {cell.axes["strategy"] for cell in cells} == {"padding", "bfd"}
    assert all(cell.axes["attention"] == "isolated" for cell in cells)
    for cell in cells:
        assert cell.config["packbench_equivalence_check"] is True
        assert cell.config["packbench_heldout"] == "packbench://heldout-chats"
