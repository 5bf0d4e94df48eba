"""Matrix parsing, expansion, cell ids, paired settings and excludes."""

from __future__ import annotations

import re

import pytest

from axolotl_packing_bench.matrix.problems import MatrixError
from axolotl_packing_bench.matrix.spec import (
    PLUGIN,
    expand,
    load_matrix,
    make_cell_id,
    parse_duration,
    select,
)
from tests.support.helpers import HAND_MATRIX

# The exact cells of HAND_MATRIX, in expansion order. The hashes pin the
# content-derived ids: if one changes, existing results stop matching.
EXPECTED_IDS = [
    "small__chats__padding__isolated-57bb01ba",
    "small__chats__greedy__isolated-0ed6f173",
    "small__chats__greedy__shared-e3fd8d7c",
    "big__chats__padding__isolated-a6b84470",
    "big__chats__greedy__isolated-52b729f0",
    "big__chats__greedy__shared-95fa7b09",
]


def problems_of(path) -> list[str]:
    with pytest.raises(MatrixError) as info:
        expand(load_matrix(path))
    return [str(problem) for problem in info.value.problems]


class TestExpansion:
    def test_exact_cells_in_order(self, hand_matrix):
        cells = expand(load_matrix(hand_matrix))
        assert [cell.cell_id for cell in cells] == EXPECTED_IDS
        assert cells[0].axes == {"model": "small", "dataset": "chats", "strategy": "padding", "attention": "isolated"}
        assert cells[3].labels == {"model_size": "7B", "dataset_size": "1K"}
        assert all(cell.matrix == "hand" for cell in cells)

    def test_ids_are_deterministic(self, hand_matrix):
        first = [cell.cell_id for cell in expand(load_matrix(hand_matrix))]
        second = [cell.cell_id for cell in expand(load_matrix(hand_matrix))]
        assert first == second
        assert len(set(first)) == len(first)

    def test_adding_an_axis_value_keeps_existing_ids(self, write_matrix, hand_matrix):
        before = {cell.cell_id for cell in expand(load_matrix(hand_matrix))}
        grown = write_matrix(
            HAND_MATRIX.replace("strategy: [padding, greedy]", "strategy: [padding, greedy, bfd]").replace(
                "    - {name: big,", "    - {name: huge, path: /models/huge, size: 70B}\n    - {name: big,"
            ),
            "grown.yaml",
        )
        after = {cell.cell_id for cell in expand(load_matrix(grown))}
        assert before < after
        assert len(after) == 3 * 5  # models x (padding/isolated + 2 greedy + 2 bfd)

    def test_changing_a_setting_a_cell_uses_changes_its_id(self, write_matrix, hand_matrix):
        before = [cell.cell_id for cell in expand(load_matrix(hand_matrix))]
        changed = write_matrix(HAND_MATRIX.replace("sequence_len: 256", "sequence_len: 512"), "changed.yaml")
        after = [cell.cell_id for cell in expand(load_matrix(changed))]
        assert not set(before) & set(after)

    def test_composition_order_and_strategy_keys(self, hand_matrix):
        cells = {cell.cell_id.rsplit("-", 1)[0]: cell for cell in expand(load_matrix(hand_matrix))}
        small_pad = cells["small__chats__padding__isolated"].config
        big_greedy = cells["big__chats__greedy__shared"].config
        assert small_pad["base_model"] == "/models/small"
        assert small_pad["datasets"] == [{"path": "/data/chats.jsonl", "ds_type": "json", "type": "chat_template"}]
        assert small_pad["num_epochs"] == 1
        assert big_greedy["num_epochs"] == 3  # paired
        assert big_greedy["gradient_checkpointing"] is True  # model settings
        assert big_greedy["plugins"] == [PLUGIN]
        assert big_greedy["packbench_strategy"] == "greedy"
        assert big_greedy["packbench_attention"] == "shared"
        assert big_greedy["sample_packing"] is False
        assert isinstance(small_pad["learning_rate"], float)  # 1.0e-4 and 1e-4 alike

    def test_native_sets_sample_packing(self, write_matrix):
        path = write_matrix(
            HAND_MATRIX.replace("[padding, greedy]", "[padding, native]").replace(
                "exclude:\n", "exclude:\n  - {strategy: native, attention: shared}\n"
            )
        )
        native = [cell for cell in expand(load_matrix(path)) if cell.axes["strategy"] == "native"]
        assert native and all(cell.config["sample_packing"] is True for cell in native)
        assert all(cell.config["packbench_strategy"] == "native" for cell in native)

    def test_plugin_false_leaves_plain_axolotl(self, write_matrix):
        text = "plugin: false\n" + HAND_MATRIX.replace("[padding, greedy]", "[padding, native]").replace(
            "attention: [isolated, shared]", "attention: [isolated]"
        )
        text = text.replace("  - {strategy: padding, attention: shared}\n", "  - {strategy: native, model: big}\n")
        cells = expand(load_matrix(write_matrix(text)))
        assert len(cells) == 3
        assert all("plugins" not in cell.config and "packbench_strategy" not in cell.config for cell in cells)

    def test_zipped_axes_vary_together(self, write_matrix):
        text = HAND_MATRIX.replace(
            "  attention: [isolated, shared]\n",
            "  attention: [isolated]\n  learning_rate: [1e-5, 2e-5]\n  micro_batch_size: [2, 4]\n",
        )
        text = text.replace("paired:\n", "paired:\n  - zip: [learning_rate, micro_batch_size]\n").replace(
            "exclude:\n  - {strategy: padding, attention: shared}\n", ""
        )
        cells = expand(load_matrix(write_matrix(text)))
        assert len(cells) == 2 * 2 * 2
        first = cells[0]
        assert first.cell_id.startswith("small__chats__padding__isolated__learning_rate=1e-05__micro_batch_size=2-")
        assert first.config["learning_rate"] == 1e-5 and first.config["micro_batch_size"] == 2
        assert {(c.config["learning_rate"], c.config["micro_batch_size"]) for c in cells} == {(1e-5, 2), (2e-5, 4)}

    def test_exclude_with_a_list_of_values(self, write_matrix):
        text = HAND_MATRIX.replace(
            "  - {strategy: padding, attention: shared}\n",
            "  - {strategy: padding, attention: shared}\n  - {model: [big], strategy: [greedy]}\n",
        )
        ids = [cell.cell_id for cell in expand(load_matrix(write_matrix(text)))]
        assert len(ids) == 4 and not any(i.startswith("big__chats__greedy") for i in ids)

    def test_unknown_sections_are_kept(self, write_matrix):
        matrix = load_matrix(write_matrix(HAND_MATRIX + "eval:\n  tasks: [mmlu]\nresources: {gpus: 8}\n"))
        assert matrix.sections == {"eval": {"tasks": ["mmlu"]}, "resources": {"gpus": 8}}

    def test_base_from_a_file_with_overrides(self, tmp_path, write_matrix):
        (tmp_path / "base.yml").write_text("sequence_len: 128\nnum_epochs: 2\noptimizer: adamw_torch\n")
        text = HAND_MATRIX.split("axes:")[1]
        path = write_matrix("name: filed\nbase: base.yml\noverrides: {num_epochs: 5}\naxes:" + text)
        cell = expand(load_matrix(path))[0]
        assert cell.config["sequence_len"] == 128 and cell.config["num_epochs"] == 5
        assert cell.sources["sequence_len"] == str((tmp_path / "base.yml").resolve())

    def test_attention_defaults_to_isolated(self, write_matrix):
        text = HAND_MATRIX.replace("  attention: [isolated, shared]\n", "").split("exclude:")[0]
        cells = expand(load_matrix(write_matrix(text)))
        assert {cell.axes["attention"] for cell in cells} == {"isolated"}


class TestProblems:
    def test_native_with_shared_attention_needs_an_exclude(self, write_matrix):
        path = write_matrix(HAND_MATRIX.replace("[padding, greedy]", "[padding, native]"))
        (problem,) = problems_of(path)
        assert "native" in problem and "{strategy: native, attention: shared}" in problem

    def test_unknown_strategy_suggests_the_right_one(self, write_matrix):
        (problem,) = problems_of(write_matrix(HAND_MATRIX.replace("[padding, greedy]", "[padding, grredy]")))
        assert "axes.strategy" in problem and "'grredy'" in problem and "did you mean 'greedy'" in problem
        assert "fix: use one of padding" in problem

    def test_every_problem_is_reported(self, write_matrix):
        text = HAND_MATRIX.replace("[isolated, shared]", "[isolated, sharred]").replace(
            "{strategy: padding, attention: shared}", "{strategy: padding, atention: shared}"
        )
        problems = problems_of(write_matrix("exlude: []\n" + text))
        assert len(problems) == 3
        assert any("exlude: unknown top-level key (did you mean 'exclude'?)" in p for p in problems)
        assert any("unknown attention 'sharred'" in p for p in problems)
        assert any("exclude[0].atention: unknown axis (did you mean 'attention'?)" in p for p in problems)

    def test_missing_base_file(self, write_matrix):
        (problem,) = problems_of(write_matrix("base: nowhere.yml\naxes: {strategy: [padding]}\n"))
        assert "matrix.yaml: base:" in problem and "nowhere.yml: file not found" in problem
        assert "relative to the matrix file" in problem

    def test_malformed_yaml_names_the_line(self, write_matrix):
        (problem,) = problems_of(write_matrix("base: {sequence_len: 4\naxes:\n  strategy: [padding\n"))
        assert "malformed YAML at line" in problem and "fix the YAML syntax" in problem

    def test_runner_and_axis_keys_are_refused(self, write_matrix):
        text = HAND_MATRIX.replace(
            "  sequence_len: 256\n", "  sequence_len: 256\n  output_dir: ./out\n  sample_packing: true\n"
        )
        problems = problems_of(write_matrix(text))
        assert any("base.output_dir: is set by `packbench run`" in p for p in problems)
        assert any("base.sample_packing: is set by the strategy axis" in p for p in problems)

    def test_paired_and_exclude_values_must_exist(self, write_matrix):
        text = HAND_MATRIX.replace("when: {model: big}", "when: {model: bigg}")
        (problem,) = problems_of(write_matrix(text))
        assert "paired[0].when.model" in problem and "did you mean 'big'" in problem

    def test_model_entry_needs_a_path(self, write_matrix):
        text = HAND_MATRIX.replace(
            "{name: small, path: /models/small, size: 1B}", "{name: small, size: 1B, setings: {}}"
        )
        problems = problems_of(write_matrix(text))
        assert any("axes.model[0].path: is missing" in p for p in problems)
        assert any("axes.model[0].setings: unknown key (did you mean 'settings'?)" in p for p in problems)

    def test_bad_timeout_and_launcher(self, write_matrix):
        problems = problems_of(write_matrix("timeout: soon\nlauncher: acelerate\n" + HAND_MATRIX))
        assert any("timeout: 'soon' is not a duration" in p for p in problems)
        assert any("launcher: 'acelerate' is not a launcher (did you mean 'accelerate'?)" in p for p in problems)

    def test_strategy_axis_is_required(self, write_matrix):
        (problem,) = problems_of(write_matrix("base: {sequence_len: 8}\naxes: {attention: [isolated]}\n"))
        assert "axes.strategy: is missing" in problem


def test_make_cell_id_sanitizes():
    cell_id = make_cell_id(
        {"model": "org/My Model", "dataset": "a b", "strategy": "bfd", "attention": "isolated", "lr": "1e-05"}
    )
    assert re.fullmatch(r"org-My-Model__a-b__bfd__isolated__lr=1e-05-[0-9a-f]{8}", cell_id)


def test_select_by_glob_and_axis(hand_matrix):
    cells = expand(load_matrix(hand_matrix))
    assert len(select(cells, ["strategy=greedy"])) == 4
    assert len(select(cells, ["big__*"])) == 3
    assert len(select(cells, ["model=small", "attention=shared"])) == 4
    assert select(cells, []) == cells


@pytest.mark.parametrize(
    ("text", "seconds"), [(600, 600.0), ("90s", 90.0), ("15m", 900.0), ("2h", 7200.0), ("1h30m", 5400.0), ("45", 45.0)]
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "", "-5", 0, True])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError):
        parse_duration(text)
