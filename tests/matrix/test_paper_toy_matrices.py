"""The paper-toy follow-up matrices: their cells and axes, the recipe they share with the sweep, which cells the
reliance probe runs on, and the command and idle runtime estimate each opens with.

`packbench validate --matrix` on each is tests/cli/test_matrix_commands.py::test_shipped_matrices_are_valid.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

import pytest

from axolotl_packing_bench.matrix.spec import Cell, expand, load_matrix, matches
from axolotl_packing_bench.results.baseline import baseline_finder

MATRICES = Path(__file__).resolve().parents[2] / "recipes" / "matrices"
FOLLOW_UPS = ("paper-toy-shared", "paper-toy-shared-lr", "paper-toy-crossover", "loss-weighting", "equal-steps")
ON_DEMAND = ("paper-toy-ratio",)
BUDGET_MIN = 60
"""Each matrix runs within an hour at --jobs 2 on the 2-core machine, idle (split a matrix that would not)."""


def cells_of(name: str) -> list[Cell]:
    return expand(load_matrix(MATRICES / f"{name}.yaml"))


def count(cells: list[Cell], axis: str) -> dict[str, int]:
    return dict(Counter(cell.axes[axis] for cell in cells))


def without(config: dict, *keys: str) -> dict:
    return {key: value for key, value in config.items() if key not in keys}


def probed(name: str) -> list[Cell]:
    """The cells the matrix's reliance probe runs on."""
    matrix = load_matrix(MATRICES / f"{name}.yaml")
    assert "reliance" in matrix.sections["probes"]
    return [cell for cell in expand(matrix) if matches(matrix.probe_when.get("reliance", {}), cell.axes)]


def assert_every_packed_cell_has_its_padding(cells: list[Cell]) -> None:
    find = baseline_finder(cells, lambda cell: cell.axes)
    for cell in cells:
        if cell.axes["strategy"] != "padding":
            padding = find(cell)
            assert padding is not None, cell.cell_id
            assert without(padding.axes, "strategy", "attention") == without(cell.axes, "strategy", "attention")
            assert padding.axes["attention"] == "isolated"


@pytest.mark.parametrize(
    ("name", "sweep"), [("paper-toy-shared", "paper-toy"), ("paper-toy-shared-lr", "paper-toy-lr")]
)
def test_the_shared_sweeps_are_the_sweeps_with_shared_attention_beside_isolated(name: str, sweep: str):
    cells = cells_of(name)
    assert len(cells) == 2 * 4 * (1 + 3 * 2) * 3 == 168
    assert count(cells, "model") == {"tiny-8b": 84, "tiny-70b": 84}
    sizes = ("synth-69k-toy", "synth-326k-toy", "synth-652k-toy", "synth-1.2m-toy")
    assert count(cells, "dataset") == dict.fromkeys(sizes, 42)
    assert count(cells, "strategy") == {"padding": 24, "random": 48, "greedy": 48, "bfd": 48}
    assert count(cells, "attention") == {"isolated": 96, "shared": 72}  # padding once: its attention changes nothing
    assert count(cells, "seed") == {"0": 56, "1": 56, "2": 56}
    # the isolated cells are the sweep's own, recipe for recipe (and so cell for cell); a shared cell differs in
    # its attention only
    original = {cell.cell_id: cell.config for cell in cells_of(sweep)}
    assert {cell.cell_id: cell.config for cell in cells if cell.axes["attention"] == "isolated"} == original

    def setup(cell: Cell) -> tuple:
        return tuple(value for axis, value in cell.axes.items() if axis != "attention")

    isolated = {setup(cell): cell.config for cell in cells if cell.axes["attention"] == "isolated"}
    for cell in cells:
        if cell.axes["attention"] == "shared":
            assert cell.config["packbench_attention"] == "shared"
            assert without(cell.config, "packbench_attention") == without(isolated[setup(cell)], "packbench_attention")
    assert {cell.config.get("packbench_scale_lr", False) for cell in cells} == {name.endswith("-lr")}
    assert {cell.config["packbench_heldout"] for cell in cells} == {"packbench://heldout-chats"}
    assert_every_packed_cell_has_its_padding(cells)
    on = probed(name)
    assert len(on) == 42 and count(on, "dataset") == {"synth-1.2m-toy": 42}


def test_the_crossover_extends_tiny_70bs_scaled_curve_past_520_chats():
    cells = cells_of("paper-toy-crossover")
    assert len(cells) == 2 * 3 * 3 == 18
    assert count(cells, "model") == {"tiny-70b": 18}
    assert {(cell.axes["dataset"], cell.labels["dataset_size"]) for cell in cells} == {
        ("synth-2.4m-toy", "1040"),
        ("synth-4.8m-toy", "2080"),
    }
    assert {cell.config["datasets"][0]["path"] for cell in cells} == {
        "packbench://dataset/1040",
        "packbench://dataset/2080",
    }
    assert count(cells, "strategy") == {"padding": 6, "bfd": 12}
    assert count(cells, "attention") == {"isolated": 12, "shared": 6}
    assert_every_packed_cell_has_its_padding(cells)
    # paper-toy-shared-lr's recipe but for the data, so the two draw one curve in one results file
    reference = {
        (c.axes["strategy"], c.axes["attention"], c.axes["seed"]): c.config
        for c in cells_of("paper-toy-shared-lr")
        if c.axes["model"] == "tiny-70b" and c.axes["dataset"] == "synth-1.2m-toy"
    }
    for cell in cells:
        key = (cell.axes["strategy"], cell.axes["attention"], cell.axes["seed"])
        assert without(cell.config, "datasets") == without(reference[key], "datasets")
        assert cell.config["packbench_scale_lr"] is True
    # padding at 2,080 chats is 1,040 steps: the sweep's 10-minute timeout would not do
    assert cells[0].timeout >= 20 * 60


def test_loss_weighting_crosses_loss_mode_and_accumulation_for_padding_and_bfd():
    cells = cells_of("loss-weighting")
    assert len(cells) == 2 * 2 * 2 * 2 * 3 == 48
    assert count(cells, "model") == {"tiny-70b": 48}
    assert count(cells, "dataset") == {"synth-652k-toy": 24, "synth-1.2m-toy": 24}
    assert count(cells, "strategy") == {"padding": 24, "bfd": 24}
    assert count(cells, "packbench_loss") == {"token": 24, "sample": 24}
    assert count(cells, "gradient_accumulation_steps") == {"1": 24, "4": 24}
    for cell in cells:
        assert cell.config["packbench_loss"] == cell.axes["packbench_loss"]
        assert cell.config["gradient_accumulation_steps"] == int(cell.axes["gradient_accumulation_steps"])
        assert cell.axes["attention"] == "isolated" and "packbench_scale_lr" not in cell.config
    # one board table per dataset x loss x accumulation, each with padding and bfd over the 3 seeds
    tables = Counter(
        (c.axes["dataset"], c.axes["packbench_loss"], c.axes["gradient_accumulation_steps"], c.axes["strategy"])
        for c in cells
    )
    assert set(tables.values()) == {3} and len(tables) == 16
    assert_every_packed_cell_has_its_padding(cells)


def natural_steps(epochs: int = 2, batch: int = 4, capacity: int = 512) -> dict[str, int]:
    """The optimizer steps bfd, single_turn and padding take on equal-steps' data without max_steps, as the
    plugin counts them: ceil(rows x epochs / batch), rows from the packing plan of the chats' token lengths."""
    import json

    from axolotl_packing_bench.assets import conversation_num_tokens, resolve_asset_uri
    from axolotl_packing_bench.packing import pack

    with open(resolve_asset_uri("packbench://dataset/400?seed=0"), encoding="utf-8") as handle:
        chats = [json.loads(line)["messages"] for line in handle]
    lengths = [conversation_num_tokens(messages) for messages in chats]
    turns = [sum(m["role"] == "assistant" for m in messages) for messages in chats]
    rows = {
        "bfd": pack(lengths, capacity, "bfd").num_bins,
        "single_turn": pack(lengths, capacity, "single_turn", turns=turns).num_bins,
        "padding": pack(lengths, capacity, "padding").num_bins,
    }
    return {strategy: math.ceil(count * epochs / batch) for strategy, count in rows.items()}


def test_equal_steps_gives_every_strategy_each_others_step_count():
    matrix = load_matrix(MATRICES / "equal-steps.yaml")
    cells = expand(matrix)
    assert len(cells) == 3 * 3 * 3 == 27
    assert count(cells, "strategy") == {"padding": 9, "bfd": 9, "single_turn": 9}
    steps = natural_steps()
    assert steps["bfd"] < steps["single_turn"] < steps["padding"]
    budgets = [value.value for value in matrix.axis("max_steps").values]
    assert budgets == [steps["bfd"], steps["single_turn"], steps["padding"]]
    for cell in cells:
        assert cell.config["max_steps"] == int(cell.axes["max_steps"]) and cell.config["num_epochs"] == 2
    assert Counter((c.axes["max_steps"], c.axes["strategy"]) for c in cells) == {
        (str(b), s): 3 for b in budgets for s in ("padding", "bfd", "single_turn")
    }
    assert_every_packed_cell_has_its_padding(cells)
    assert len(probed("equal-steps")) == 27  # the few-shot effect of every cell
    # reliance.yaml's base model, data and training recipe, so the step confound is the only change
    reliance = expand(load_matrix(MATRICES / "reliance.yaml"))[0].config
    for key in ("base_model", "datasets", "sequence_len", "micro_batch_size", "learning_rate", "lr_scheduler"):
        assert cells[0].config[key] == reliance[key], key


def test_the_ratio_matrix_adds_the_third_base_to_the_shared_sweep():
    cells = cells_of("paper-toy-ratio")
    assert len(cells) == 4 * 3 * 3 == 36
    assert count(cells, "model") == {"tiny-70b-ratio": 36}
    assert {cell.config["base_model"] for cell in cells} == {"packbench://model/tiny-70b-ratio"}
    assert count(cells, "strategy") == {"padding": 12, "bfd": 24}
    assert_every_packed_cell_has_its_padding(cells)
    reference = {
        (c.axes["dataset"], c.axes["strategy"], c.axes["attention"], c.axes["seed"]): c.config
        for c in cells_of("paper-toy-shared")
        if c.axes["model"] == "tiny-70b"
    }
    for cell in cells:
        key = (cell.axes["dataset"], cell.axes["strategy"], cell.axes["attention"], cell.axes["seed"])
        assert without(cell.config, "base_model") == without(reference[key], "base_model")
    assert count(probed("paper-toy-ratio"), "dataset") == {"synth-1.2m-toy": 9}


RUN_LINE = re.compile(r"^#\s+packbench run --matrix recipes/matrices/(?P<file>[\w.-]+\.yaml) --jobs 2 \\$")
ESTIMATE = re.compile(r"estimated idle runtime: (?:about )?(?P<minutes>\d+) min")


@pytest.mark.parametrize("name", FOLLOW_UPS + ON_DEMAND)
def test_each_matrix_opens_with_its_command_and_an_idle_estimate_within_the_budget(name: str):
    lines = (MATRICES / f"{name}.yaml").read_text(encoding="utf-8").splitlines()
    head = [line for line in lines[:6] if line.startswith("#")]
    estimate = ESTIMATE.search(head[0])
    assert estimate is not None, head[0]
    assert int(estimate["minutes"]) <= BUDGET_MIN
    runs = [match for line in head if (match := RUN_LINE.match(line))]
    assert [match["file"] for match in runs] == [f"{name}.yaml"]
    results = next(line for line in head if "--results leaderboard/" in line)
    assert re.search(r"--results leaderboard/[\w.-]+\.jsonl --leaderboard leaderboard/[\w.-]+-board\.md$", results)
