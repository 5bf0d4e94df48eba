"""`packbench validate` and `packbench recipes`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from axolotl_packing_bench.cli import main

MATRIX = (
    """\
name: tiny
base:
  sequence_len: 256
  micro_batch_size: 2
  num_epochs: 1
  learning_rate: 1.0e-4
  optimizer: adamw_torch
  lr_scheduler: cosine
axes:
  model:
    - {name: small, path: /models/small, size: 1B}
  dataset:
    - {name: chats, size: 1K, datasets: [{path: /data/chats.jsonl, ds_type: json, """
    """\
type: chat_template, field_messages: messages}]}
  strategy: [padding, greedy]
"""
)


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def write(tmp_path: Path, text: str, name: str = "m.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


CHAT = '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n'


def with_data(tmp_path: Path, text: str = MATRIX, data: str = CHAT) -> str:
    """`text` reading a real chats.jsonl (holding `data`) and model folder instead of the made-up paths."""
    path = tmp_path / "chats.jsonl"
    path.write_text(data)
    return text.replace("/data/chats.jsonl", str(path)).replace("/models/small", str(local_model(tmp_path)))


def local_model(tmp_path: Path) -> Path:
    """A folder that passes the model check (a config.json in it)."""
    folder = tmp_path / "models" / "small"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text("{}")
    return folder


class TestValidateStructure:
    def test_ok_without_schema(self, tmp_path):
        result = invoke("validate", "--matrix", str(write(tmp_path, with_data(tmp_path))), "--no-schema")
        assert result.exit_code == 0, result.output
        assert "OK, 2 cells (schema not checked, dataset files and model paths checked)" in result.output
        result = invoke("validate", "--matrix", str(write(tmp_path, MATRIX)), "--no-schema", "--no-data")
        assert "OK, 2 cells (schema not checked, dataset files and model paths not checked)" in result.output

    @pytest.mark.parametrize(
        ("data", "what", "fix"),
        [
            ("", "{d} is empty", "write one JSON record per line, or pass another file"),
            (
                CHAT + '{"messages": [\n',
                "line 2 of {d} is not valid JSON (Expecting value)",
                "write one JSON object per line",
            ),
            (
                CHAT + '{"conversations": []}\n',
                "line 2 of {d} has no `messages` list of turns (type chat_template reads field_messages: messages)",
                "add it, or set field_messages to the field that holds the turns",
            ),
        ],
    )
    def test_dataset_files_are_checked_as_stats_reads_them(self, tmp_path, data, what, fix):
        """Issue 14, defect 3: an empty file or a broken line used to pass `validate` and fail the cell."""
        path = write(tmp_path, with_data(tmp_path, data=data))
        result = invoke("validate", "--matrix", str(path), "--no-schema")
        assert result.exit_code == 2, result.output
        what = what.format(d=tmp_path / "chats.jsonl")
        assert result.output.splitlines() == [
            f"Error: {path}: axes.dataset[chats].datasets[0].path: {what} (2 cells); fix: {fix}.",
            f"1 problem in {path}.",
        ]

    @pytest.mark.parametrize(
        ("count", "problem"),
        [
            (
                "0",
                "num_processes: 0 is not a number of training processes; fix: write a whole number, 1 or more "
                "(e.g. num_processes: 2).",
            ),
            (
                "4",
                "num_processes: asks for 4 training processes and this machine has 2 CPU cores (2 cells); fix: "
                "lower num_processes to 2 or fewer, or run the matrix with --backend ray or slurm on machines with "
                "more cores.",
            ),
        ],
    )
    def test_a_process_count_below_one_or_above_the_cores_is_refused(self, tmp_path, monkeypatch, count, problem):
        import os

        monkeypatch.setattr(os, "cpu_count", lambda: 2)
        path = write(tmp_path, f"num_processes: {count}\n" + MATRIX)
        result = invoke("validate", "--matrix", str(path), "--no-schema", "--no-data")
        assert result.exit_code == 2, result.output
        assert result.output.splitlines() == [f"Error: {path}: {problem}", f"1 problem in {path}."]
        two = write(tmp_path, "num_processes: 2\n" + MATRIX)
        ok = invoke("validate", "--matrix", str(two), "--no-schema", "--no-data")
        assert ok.exit_code == 0 and "OK, 2 cells" in ok.output

    def test_missing_dataset_file(self, tmp_path):
        result = invoke("validate", "--matrix", str(write(tmp_path, MATRIX)), "--no-schema")
        assert result.exit_code == 2
        assert (
            "axes.dataset[chats].datasets[0].path: dataset file /data/chats.jsonl does not exist (2 cells); "
            "fix: check the path"
        ) in result.output

    def test_matrix_or_recipe(self, tmp_path):
        for args in ((), ("--matrix", "a.yaml", "--recipe", "b.yml")):
            result = invoke("validate", *args)
            assert result.exit_code == 2
            assert result.output == "Error: pass either --matrix FILE or --recipe FILE to `packbench validate`.\n"

    def test_unknown_strategy(self, tmp_path):
        path = write(tmp_path, MATRIX.replace("[padding, greedy]", "[padding, gredy]"))
        result = invoke("validate", "--matrix", str(path), "--no-schema")
        assert result.exit_code == 2
        assert (
            f"{path}: axes.strategy: unknown strategy 'gredy' (did you mean 'greedy'?); fix: use one of padding"
            in result.output
        )
        assert "1 problem in" in result.output and "Traceback" not in result.output

    def test_missing_base_file(self, tmp_path):
        path = write(
            tmp_path,
            "base: recipes/base.yml\n"
            + MATRIX.split("axes:")[0].split("base:")[0]
            + "axes:"
            + MATRIX.split("axes:")[1],
        )
        result = invoke("validate", "--matrix", str(path), "--no-schema")
        assert result.exit_code == 2
        assert "base: " in result.output and "recipes/base.yml: file not found" in result.output

    def test_malformed_yaml(self, tmp_path):
        path = write(tmp_path, MATRIX.replace("  num_epochs: 1\n", "  num_epochs: [1\n"))
        result = invoke("validate", "--matrix", str(path), "--no-schema")
        assert result.exit_code == 2
        assert f"{path}: malformed YAML at line" in result.output and "fix: fix the YAML syntax there" in result.output

    def test_missing_matrix_file(self, tmp_path):
        result = invoke("validate", "--matrix", str(tmp_path / "nope.yaml"), "--no-schema")
        assert result.exit_code == 2 and "nope.yaml: file not found" in result.output

    def test_matrix_that_is_not_utf8(self, tmp_path):
        """A binary or Latin-1 matrix is one problem, not a UnicodeDecodeError (issue 14, defect 1)."""
        latin1 = tmp_path / "latin1.yaml"
        latin1.write_bytes(MATRIX.replace("name: tiny", "description: caf\xe9").encode("latin-1"))
        for path in (latin1, Path("/bin/ls")):
            result = invoke("validate", "--matrix", str(path), "--no-schema")
            assert result.exit_code == 2, result.output
            assert f"{path}: is not UTF-8 text (byte 0x" in result.output and "fix: save it as UTF-8." in result.output
            assert "Traceback" not in result.output and "UnicodeDecodeError" not in result.output
        run = invoke("run", "--matrix", str(latin1), "--dry-run")
        assert run.exit_code == 2 and f"{latin1}: is not UTF-8 text (byte 0xe9 at offset" in run.output


class TestValidateModelsAndJudgeKey:
    """Local model paths must exist and hold a config.json; the judge's key variable must be set."""

    @pytest.mark.parametrize(
        "written, what",
        [
            ("{missing}", "the local model path {missing} does not exist"),
            ("./nowhere/small", "the local model path ./nowhere/small does not exist"),
            ("{empty}", "the local model folder {empty} holds no config.json"),
            ("{file}", "the local model path {file} is a file, not a folder"),
        ],
    )
    def test_bad_local_model(self, tmp_path, monkeypatch, written, what):
        monkeypatch.chdir(tmp_path)
        (tmp_path / "empty").mkdir()
        (tmp_path / "weights.bin").write_text("x")
        names = {"missing": tmp_path / "gone", "empty": tmp_path / "empty", "file": tmp_path / "weights.bin"}
        path = write(tmp_path, with_data(tmp_path).replace(str(local_model(tmp_path)), written.format(**names)))
        result = invoke("validate", "--matrix", str(path), "--no-schema")
        assert result.exit_code == 2, result.output
        assert f"{path}: axes.model[small].path: {what.format(**names)} (2 cells); fix: point it at" in result.output
        assert "Traceback" not in result.output

    def test_hub_ids_and_uris_are_left_to_the_run(self, tmp_path):
        for model in ("meta-llama/Llama-3.1-8B", "packbench://model/tiny-8b", "gpt2"):
            path = write(tmp_path, with_data(tmp_path).replace(str(local_model(tmp_path)), model))
            result = invoke("validate", "--matrix", str(path), "--no-schema")
            assert result.exit_code == 0, (model, result.output)

    def test_recipe_with_a_missing_model(self, tmp_path):
        recipe = write(tmp_path, f"base_model: {tmp_path / 'gone'}\nsequence_len: 256\n", "recipe.yml")
        result = invoke("validate", "--recipe", str(recipe), "--no-schema")
        assert result.exit_code == 2
        assert f"{recipe}: base_model: the local model path {tmp_path / 'gone'} does not exist" in result.output

    def test_unset_judge_key_variable(self, tmp_path, monkeypatch):
        judge = (
            "eval:\n  tasks: []\n"
            "  judge: {base_url: http://localhost:1/v1, model: m, api_key_env: PACKBENCH_TEST_KEY}\n"
        )
        path = write(tmp_path, with_data(tmp_path) + judge)
        monkeypatch.delenv("PACKBENCH_TEST_KEY", raising=False)
        result = invoke("validate", "--matrix", str(path), "--no-schema", "--no-data")
        assert result.exit_code == 2, result.output
        assert (
            f"{path}: eval.judge.api_key_env: names the variable PACKBENCH_TEST_KEY, which is not set, so every "
            "cell's judge scores would fail; fix: export PACKBENCH_TEST_KEY=<your key> before running"
        ) in result.output
        monkeypatch.setenv("PACKBENCH_TEST_KEY", "sk-test")
        ok = invoke("validate", "--matrix", str(path), "--no-schema", "--no-data")
        assert ok.exit_code == 0, ok.output
        assert "sk-test" not in ok.output


class TestValidateSchema:
    """These import Axolotl (~20 s once per session)."""

    def test_ok(self, tmp_path):
        result = invoke("validate", "--matrix", str(write(tmp_path, with_data(tmp_path))))
        assert result.exit_code == 0, result.output
        assert "OK, 2 cells (checked against Axolotl's schema, dataset files and model paths checked)" in result.output

    def test_hand_written_recipe(self, tmp_path):
        """Issue 14, defect 11: the plugin's config error is one line here, before anything trains."""
        data = tmp_path / "chats.jsonl"
        data.write_text(CHAT + "{oops\n")
        recipe = write(
            tmp_path,
            f"base_model: {local_model(tmp_path)}\nplugins: [axolotl_packing_bench.PackingBenchPlugin]\n"
            "packbench_strategy: tetris\nsequence_len: 256\nmicro_batch_size: 1\nnum_epochs: 1\n"
            "learning_rate: 0.001\n"
            f"datasets: [{{path: {data}, type: chat_template}}]\n",
            "recipe.yml",
        )
        result = invoke("validate", "--recipe", str(recipe))
        assert result.exit_code == 2, result.output
        lines = result.output.splitlines()
        assert lines[0].startswith(
            f"Error: {recipe}: packbench_strategy: Value error, unknown packbench strategy 'tetris'"
        )
        assert lines[1] == (
            f"{recipe}: datasets[0].path: line 2 of {data} is not valid JSON (Expecting property name "
            "enclosed in double quotes); fix: write one JSON object per line."
        )
        assert lines[2] == f"2 problems in {recipe}." and "Traceback" not in result.output
        recipe.write_text(recipe.read_text().replace("tetris", "greedy"))
        data.write_text(CHAT)
        ok = invoke("validate", "--recipe", str(recipe))
        assert ok.exit_code == 0, ok.output
        assert ok.output == f"{recipe}: OK (checked against Axolotl's schema, dataset files and model paths checked).\n"

    def test_bad_key_bad_type_and_dataset_key(self, tmp_path):
        text = MATRIX.replace("  learning_rate: 1.0e-4\n", "  lerning_rate: 1.0e-4\n").replace(
            "sequence_len: 256", "sequence_len: long"
        )
        text = text.replace("field_messages: messages", "feld_messages: messages")
        path = write(tmp_path, text)
        result = invoke("validate", "--matrix", str(path))
        assert result.exit_code == 2
        out = result.output
        assert (
            f"{path}: base.lerning_rate: unknown Axolotl key (did you mean 'learning_rate'?), "
            "which Axolotl would silently ignore (2 cells); fix: rename or remove it." in out
        )
        assert (
            f"{path}: base.sequence_len: Input should be a valid integer, unable to parse string as an integer "
            "(2 cells); fix: make it a valid integer" in out
        )
        assert (
            "axes.dataset[chats].datasets[0].feld_messages: unknown dataset key (did you mean 'field_messages'?)" in out
        )

    def test_problem_in_a_base_file_names_that_file(self, tmp_path):
        base = write(
            tmp_path, "sequence_len: 256\nmicro_batch_size: two\nnum_epochs: 1\nlearning_rate: 0.001\n", "base.yml"
        )
        path = write(tmp_path, "base: base.yml\naxes:" + MATRIX.split("axes:")[1])
        result = invoke("validate", "--matrix", str(path))
        assert result.exit_code == 2
        assert f"{base.resolve()}: micro_batch_size: Input should be a valid integer" in result.output

    def test_shipped_matrices_are_valid(self):
        root = Path(__file__).parents[2] / "recipes" / "matrices"
        for matrix in sorted(root.glob("*.yaml")):
            # the paper's two local datasets are downloaded by the user (data/*.jsonl): not here
            data = ("--no-data",) if matrix.name == "paper.yaml" else ()
            result = invoke("validate", "--matrix", str(matrix), *data)
            assert result.exit_code == 0, f"{matrix}: {result.output}"


class TestRecipes:
    def test_writes_one_file_per_cell_deterministically(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        write(tmp_path, MATRIX)
        result = invoke("recipes", "--matrix", "m.yaml", "--out", "out")
        assert result.exit_code == 0 and "wrote 2 recipe(s) to out" in result.output
        files = sorted((tmp_path / "out").glob("*.yml"))
        first = [f.read_bytes() for f in files]
        assert files[0].read_text().startswith(f"# axolotl train out/{files[0].name} --launcher python\n")
        invoke("recipes", "--matrix", "m.yaml", "--out", "out")
        assert [f.read_bytes() for f in sorted((tmp_path / "out").glob("*.yml"))] == first

    def test_only_writes_a_subset_and_keeps_the_rest(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        write(tmp_path, MATRIX)
        invoke("recipes", "--matrix", "m.yaml", "--out", "out")
        result = invoke("recipes", "--matrix", "m.yaml", "--out", "out", "--only", "strategy=greedy")
        assert "wrote 1 recipe(s)" in result.output
        assert len(list((tmp_path / "out").glob("*.yml"))) == 2

    def test_only_matching_nothing_is_an_error(self, tmp_path):
        result = invoke(
            "recipes", "--matrix", str(write(tmp_path, MATRIX)), "--out", str(tmp_path / "o"), "--only", "strategy=bfd"
        )
        assert result.exit_code == 2 and "no cell of" in result.output

    def test_resolve_replaces_uris(self, tmp_path, monkeypatch):
        from axolotl_packing_bench.matrix import recipe

        monkeypatch.setattr(recipe, "default_resolver", lambda: lambda uri: "/resolved/" + uri.rsplit("/", 1)[-1])
        path = write(tmp_path, MATRIX.replace("/models/small", "packbench://model/tiny-8b"))
        invoke("recipes", "--matrix", str(path), "--out", str(tmp_path / "kept"))
        invoke("recipes", "--matrix", str(path), "--out", str(tmp_path / "resolved"), "--resolve")
        kept = next((tmp_path / "kept").glob("*.yml")).read_text()
        resolved = next((tmp_path / "resolved").glob("*.yml")).read_text()
        assert "base_model: packbench://model/tiny-8b" in kept
        assert "base_model: /resolved/tiny-8b" in resolved
