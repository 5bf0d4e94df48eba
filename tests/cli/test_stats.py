"""`packbench stats`: lengths files, chat datasets, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from axolotl_packing_bench.cli import main

SHARED_DATA = Path(__file__).parents[2] / ".." / "shared" / "data"


def run(*args: str):
    return CliRunner().invoke(main, ["stats", *args], catch_exceptions=False)


def run_json(*args: str) -> dict:
    result = run(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def make_tokenizer(directory: Path, texts: list[str], chat_template: str | None = None) -> Path:
    """A tiny word-level tokenizer trained on `texts`, saved like a real one."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(special_tokens=["[UNK]", "<s>", "</s>"])
    tokenizer.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]", bos_token="<s>", eos_token="</s>")
    if chat_template:
        fast.chat_template = chat_template
    fast.save_pretrained(str(directory))
    return directory


TEMPLATE = "{% for m in messages %}<s>{{ m['role'] }} : {{ m['content'] }}</s>{% endfor %}"
ALPACA = [
    {"instruction": "say hi", "input": "", "output": "hi there"},
    {"instruction": "add", "input": "1 and 2", "output": "3"},
]
SHAREGPT = [
    {
        "conversations": [
            {"from": "human", "value": "who are you"},
            {"from": "gpt", "value": "a model"},
        ]
    }
]
OPENAI = [{"messages": [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi you"}]}]


@pytest.fixture
def tokenizer_dir(tmp_path):
    return make_tokenizer(tmp_path / "tok", ["say hi there add 1 and 2 3 who are you a model hello"])


class TestLengthsFiles:
    def test_synthetic_default(self):
        result = run("--capacity", "4096")
        assert result.exit_code == 0, result.output
        assert "synthetic" in result.output
        for name in ("bfd", "greedy", "random", "sequential", "padding"):
            assert name in result.output
        assert "fewer rows" in result.output

    def test_npy_rows_match_pack(self, tmp_path):
        from axolotl_packing_bench.packing import pack

        lengths = np.array([3, 5, 2, 6, 0, 9], dtype=np.int64)
        np.save(tmp_path / "lengths.npy", lengths)
        out = run_json(str(tmp_path / "lengths.npy"), "--capacity", "8", "--strategies", "bfd,padding")
        rows = {row["strategy"]: row for row in out["strategies"]}
        assert list(rows) == ["bfd", "padding"]
        assert rows["bfd"]["num_bins"] == pack(lengths, 8, "bfd").num_bins
        assert rows["bfd"]["num_truncated"] == 1 and rows["bfd"]["num_dropped_empty"] == 1
        assert rows["bfd"]["saved_rows_vs_padding"] == rows["padding"]["num_bins"] - rows["bfd"]["num_bins"]
        assert out["num_samples"] == 6 and out["input_tokens"] == 25

    def test_text_file_and_table(self, tmp_path):
        (tmp_path / "lengths.txt").write_text("3\n5\n\n2\n6\n")
        result = run(str(tmp_path / "lengths.txt"), "--capacity", "8", "--strategies", "greedy")
        assert result.exit_code == 0, result.output
        assert "samples 4 | tokens 16 | capacity 8" in result.output
        assert "greedy: 2 fewer rows (50.0%)" in result.output

    def test_json_list_of_ints(self, tmp_path):
        (tmp_path / "lengths.json").write_text("[3, 5, 2, 6]")
        assert run_json(str(tmp_path / "lengths.json"), "--capacity", "8")["num_samples"] == 4

    def test_overflow_and_seed(self, tmp_path):
        np.save(tmp_path / "l.npy", np.array([20, 3]))
        out = run_json(
            str(tmp_path / "l.npy"),
            "--capacity",
            "8",
            "--overflow",
            "split",
            "--strategies",
            "random",
            "--seed",
            "3",
        )
        assert out["strategies"][0]["num_split"] == 1 and out["seed"] == 3

    def test_overflow_choices_match_the_library(self):
        from axolotl_packing_bench.cli.stats import _OVERFLOW_CHOICES
        from axolotl_packing_bench.packing import OVERFLOW_POLICIES

        assert _OVERFLOW_CHOICES == OVERFLOW_POLICIES

    def test_help(self):
        result = run("--help")
        assert result.exit_code == 0 and "--capacity" in result.output


class TestDatasets:
    def write(self, path: Path, records: list) -> Path:
        if path.suffix == ".jsonl":
            path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
        else:
            path.write_text(json.dumps(records))
        return path

    def lengths(self, path: Path, tokenizer: Path) -> dict:
        return run_json(str(path), "--capacity", "64", "--tokenizer", str(tokenizer), "--strategies", "padding")

    def test_alpaca_joined_without_template(self, tmp_path, tokenizer_dir):
        out = self.lengths(self.write(tmp_path / "a.json", ALPACA), tokenizer_dir)
        # "say hi" + "hi there" -> 4 words; "add" + "1 and 2" + "3" -> 5 words
        assert out["num_samples"] == 2 and out["input_tokens"] == 9

    def test_sharegpt_jsonl(self, tmp_path, tokenizer_dir):
        out = self.lengths(self.write(tmp_path / "s.jsonl", SHAREGPT), tokenizer_dir)
        assert out["input_tokens"] == 5

    def test_openai_with_chat_template(self, tmp_path):
        tok = make_tokenizer(tmp_path / "tok", ["hello hi you user assistant :"], TEMPLATE)
        out = self.lengths(self.write(tmp_path / "o.json", OPENAI), tok)
        # <s> user : hello </s> <s> assistant : hi you </s>
        assert out["input_tokens"] == 11

    def test_real_alpaca_data(self, tmp_path):
        data = SHARED_DATA / "alpaca_cleaned_1000.json"
        if not data.is_file():
            pytest.skip(f"shared data not found at {data.resolve()}")
        records = json.loads(data.read_text())
        texts = [f"{r['instruction']} {r['input']} {r['output']}" for r in records]
        tok = make_tokenizer(tmp_path / "tok", texts, TEMPLATE)
        result = run(str(data), "--capacity", "512", "--tokenizer", str(tok))
        assert result.exit_code == 0, result.output
        assert "samples 1,000" in result.output
        out = run_json(str(data), "--capacity", "512", "--tokenizer", str(tok))
        rows = {row["strategy"]: row for row in out["strategies"]}
        assert rows["bfd"]["num_bins"] < rows["padding"]["num_bins"]
        assert rows["bfd"]["num_bins"] <= rows["bfd"]["lower_bound"] * 1.05

    def test_real_sharegpt_data(self, tmp_path):
        data = SHARED_DATA / "sharegpt_identity_500.json"
        if not data.is_file():
            pytest.skip(f"shared data not found at {data.resolve()}")
        records = json.loads(data.read_text())
        texts = [t["value"] for r in records for t in r["conversations"]]
        out = run_json(
            str(data),
            "--capacity",
            "256",
            "--tokenizer",
            str(make_tokenizer(tmp_path / "tok", texts)),
        )
        assert out["num_samples"] == 500


class TestBadInput:
    def assert_user_error(self, result, fragment: str):
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        assert fragment in result.output
        assert result.output.count("\n") == 1  # one line: "Error: <one sentence>"

    def test_missing_file(self, tmp_path):
        self.assert_user_error(run(str(tmp_path / "nope.npy"), "--capacity", "8"), "is not a file")

    def test_unreadable_json(self, tmp_path, tokenizer_dir):
        (tmp_path / "bad.json").write_text("[{oops")
        result = run(str(tmp_path / "bad.json"), "--capacity", "8", "--tokenizer", str(tokenizer_dir))
        self.assert_user_error(result, "not valid JSON")

    def test_bad_jsonl_line(self, tmp_path, tokenizer_dir):
        (tmp_path / "bad.jsonl").write_text('{"messages": []}\n{oops\n')
        result = run(str(tmp_path / "bad.jsonl"), "--capacity", "8", "--tokenizer", str(tokenizer_dir))
        self.assert_user_error(result, "line 2 of bad.jsonl")

    def test_unknown_format(self, tmp_path):
        (tmp_path / "lengths.parquet").write_bytes(b"PAR1")
        self.assert_user_error(run(str(tmp_path / "lengths.parquet"), "--capacity", "8"), "unknown format")

    def test_unknown_record_format(self, tmp_path, tokenizer_dir):
        (tmp_path / "d.json").write_text(json.dumps([{"text": "hello"}]))
        result = run(str(tmp_path / "d.json"), "--capacity", "8", "--tokenizer", str(tokenizer_dir))
        self.assert_user_error(result, "ShareGPT, OpenAI or Alpaca")

    def test_dataset_without_tokenizer(self, tmp_path):
        (tmp_path / "d.json").write_text(json.dumps(ALPACA))
        self.assert_user_error(run(str(tmp_path / "d.json"), "--capacity", "8"), "--tokenizer")

    def test_missing_tokenizer_dir(self, tmp_path):
        (tmp_path / "d.json").write_text(json.dumps(ALPACA))
        result = run(str(tmp_path / "d.json"), "--capacity", "8", "--tokenizer", str(tmp_path / "x"))
        self.assert_user_error(result, "tokenizer directory")

    def test_unknown_strategy(self):
        result = run("--capacity", "8", "--strategies", "bfd,best")
        self.assert_user_error(result, "'best'")
        assert "bfd, greedy, padding, random" in result.output

    def test_bad_text_line(self, tmp_path):
        (tmp_path / "l.txt").write_text("3\nfour\n")
        self.assert_user_error(run(str(tmp_path / "l.txt"), "--capacity", "8"), "line 2 of l.txt")

    def test_negative_length(self, tmp_path):
        np.save(tmp_path / "l.npy", np.array([3, -1]))
        self.assert_user_error(run(str(tmp_path / "l.npy"), "--capacity", "8"), "lengths[1] is -1")

    @pytest.mark.parametrize("name", ["empty.txt", "blank.lengths", "empty.npy", "empty.json"])
    def test_no_lengths_is_an_error_not_a_table_of_zeros(self, tmp_path, name):
        """Issue 14, defect 4: an empty lengths file used to print 100% efficiency and exit 0."""
        path = tmp_path / name
        if name.endswith(".npy"):
            np.save(path, np.array([], dtype=np.int64))
        else:
            path.write_text({"empty.txt": "", "blank.lengths": "\n\n", "empty.json": "[]"}[name])
        result = run(str(path), "--capacity", "8")
        if name == "empty.json":
            self.assert_user_error(result, "empty.json has no records; pass a non-empty dataset.")
        else:
            self.assert_user_error(result, f"{name} holds no lengths; write one token count per line")

    @pytest.mark.parametrize(
        "name, content, fragment",
        [
            ("zero.npy", b"", "zero.npy is empty; save the lengths with numpy.save(path, lengths)."),
            ("cut.npy", None, "cut.npy is not a .npy array numpy can read (ValueError: Failed to read all data"),
            ("junk.npy", b"not numpy at all", "junk.npy is not a .npy array numpy can read"),
            ("binary.txt", b"\xff\xfe\x00", "binary.txt is not text"),
        ],
    )
    def test_unreadable_lengths_file_is_one_sentence(self, tmp_path, name, content, fragment):
        """An empty .npy used to end in click's bare `Aborted!` (numpy's EOFError)."""
        path = tmp_path / name
        if content is None:  # a .npy cut short after its header
            np.save(path, np.arange(100, dtype=np.int64))
            path.write_bytes(path.read_bytes()[:128])
        else:
            path.write_bytes(content)
        result = run(str(path), "--capacity", "8")
        self.assert_user_error(result, fragment)
        assert "Aborted" not in result.output

    def test_unreadable_text_file_is_one_sentence(self, tmp_path, monkeypatch):
        path = tmp_path / "l.txt"
        path.write_text("3\n")

        def denied(self, *args, **kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(Path, "read_text", denied)
        self.assert_user_error(run(str(path), "--capacity", "8"), f"{path} cannot be read (Permission denied)")

    def test_not_utf8_dataset_is_one_sentence(self, tmp_path, tokenizer_dir):
        path = tmp_path / "latin1.jsonl"
        path.write_bytes('{"instruction": "caf\xe9", "output": "x"}\n'.encode("latin-1"))
        result = run(str(path), "--capacity", "8", "--tokenizer", str(tokenizer_dir))
        self.assert_user_error(result, f"{path} is not UTF-8 text (byte 0xe9 at offset 20); save it as UTF-8.")

    def test_bad_capacity_is_a_usage_error(self):
        result = run("--capacity", "0")
        assert result.exit_code == 2 and "Traceback" not in result.output


MULTI = [
    {"conversations": [{"from": "human", "value": "who are you"}, {"from": "gpt", "value": "a model"}]},
    {
        "conversations": [
            {"from": "human", "value": "hello"},
            {"from": "gpt", "value": "hi you"},
            {"from": "human", "value": "who are you"},
            {"from": "gpt", "value": "a model"},
        ]
    },
    {"conversations": [{"from": "human", "value": "say hi"}, {"from": "gpt", "value": "hi there"}]},
    {
        "conversations": [
            {"from": "system", "value": "a model"},
            {"from": "human", "value": "add 1 and 2"},
            {"from": "gpt", "value": "3"},
            {"from": "human", "value": "add 2"},
            {"from": "gpt", "value": "2"},
        ]
    },
    {"conversations": [{"from": "human", "value": "hello"}, {"from": "gpt", "value": "hi"}]},
]


class TestTrustworthyStats:
    def write(self, path: Path, records: list) -> Path:
        path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
        return path

    def test_single_turn_packs_single_turn_chats_only(self, tmp_path, tokenizer_dir):
        data = self.write(tmp_path / "multi.jsonl", MULTI)
        out = run_json(
            str(data), "--capacity", "64", "--tokenizer", str(tokenizer_dir), "--strategies", "bfd,single_turn"
        )
        rows = {row["strategy"]: row for row in out["strategies"]}
        from axolotl_packing_bench.data.lengths import read_samples

        samples = read_samples(data, tokenizer_dir)
        assert samples.turns.tolist() == [1, 2, 1, 2, 1]
        single = samples.lengths[samples.turns == 1]
        assert rows["bfd"]["num_bins"] == 1  # everything fits one row of 64
        assert rows["single_turn"]["num_bins"] == pack_rows(single, 64) + 2  # the two multi-turn chats alone

    def test_trainer_padding_is_the_baseline_and_capacity_padding_is_labelled(self, tmp_path):
        np.save(tmp_path / "l.npy", np.array([10, 100, 20, 30]))
        out = run_json(
            str(tmp_path / "l.npy"),
            "--capacity",
            "128",
            "--strategies",
            "padding,bfd",
            "--micro-batch-size",
            "2",
            "--pad-to-multiple-of",
            "0",
        )
        rows = {row["strategy"]: row for row in out["strategies"]}
        padding = rows["padding"]
        # the seeded shuffle pairs the rows somehow: each pair is padded to its longer row (2 x 100 + 2 x 20..30),
        # never to capacity (4 x 128)
        assert 240 <= padding["trainer_tokens"] <= 260
        assert padding["trainer_efficiency"] == pytest.approx(160 / padding["trainer_tokens"])
        assert padding["efficiency"] == pytest.approx(160 / (4 * 128))
        text = run(str(tmp_path / "l.npy"), "--capacity", "128", "--micro-batch-size", "2").output
        assert "trainer eff." in text and "full-row eff." in text
        assert "micro batches of 2, each padded to its longest row rounded up to a multiple of 64" in text
        assert "vs full-capacity rows" in text

    def test_lengths_file_skips_what_needs_chats_with_one_note_each_and_no_warnings(self, tmp_path):
        np.save(tmp_path / "l.npy", np.array([10, 100, 20, 30]))
        result = run(str(tmp_path / "l.npy"), "--capacity", "128")
        assert result.exit_code == 0, result.output
        assert "Warning" not in result.output
        assert "skipped related: needs the chats' text to group them; pass a chat dataset." in result.output
        assert "skipped single_turn: needs turns per chat" in result.output
        asked = run(str(tmp_path / "l.npy"), "--capacity", "128", "--strategies", "related")
        assert asked.exit_code == 2 and "strategy related: needs the chats' text" in asked.output

    def test_related_groups_chats_without_warnings(self, tmp_path, tokenizer_dir):
        data = self.write(tmp_path / "multi.jsonl", MULTI * 4)
        result = run(str(data), "--capacity", "64", "--tokenizer", str(tokenizer_dir))
        assert result.exit_code == 0, result.output
        assert "Warning" not in result.output and "related " in result.output and "unrelated " in result.output

    def test_second_look_comes_from_the_cache(self, tmp_path, tokenizer_dir, monkeypatch):
        from axolotl_packing_bench.data import lengths

        monkeypatch.setenv("PACKBENCH_HOME", str(tmp_path / "home"))
        data = self.write(tmp_path / "multi.jsonl", MULTI)
        first = run_json(str(data), "--capacity", "64", "--tokenizer", str(tokenizer_dir), "--strategies", "bfd")
        assert not first["source"].endswith("(cached)")
        assert list((tmp_path / "home" / "lengths-cache").glob("*-tokens.npz"))

        def no_tokenizing(*args, **kwargs):
            raise AssertionError("tokenized again")

        monkeypatch.setattr(lengths, "tokenize_records", no_tokenizing)
        monkeypatch.setattr(lengths, "load_tokenizer", no_tokenizing)
        second = run_json(str(data), "--capacity", "64", "--tokenizer", str(tokenizer_dir), "--strategies", "bfd")
        assert second["source"].endswith("(cached)")
        assert second["input_tokens"] == first["input_tokens"]
        assert [r["num_bins"] for r in second["strategies"]] == [r["num_bins"] for r in first["strategies"]]
        data.write_text(data.read_text() + json.dumps(MULTI[0]) + "\n")  # a changed file is a new key
        with pytest.raises(AssertionError, match="tokenized again"):
            run(str(data), "--capacity", "64", "--tokenizer", str(tokenizer_dir), "--strategies", "bfd")

    def test_config_gives_capacity_tokenizer_micro_batch_and_datasets(self, tmp_path, tokenizer_dir, monkeypatch):
        monkeypatch.chdir(tmp_path)
        self.write(tmp_path / "multi.jsonl", MULTI)
        (tmp_path / "axolotl.yml").write_text(
            f"base_model: {tokenizer_dir}\nsequence_len: 64\nmicro_batch_size: 3\nseed: 7\npad_to_sequence_len: true\n"
            "datasets:\n  - {path: multi.jsonl, type: chat_template}\n"
        )
        out = run_json("--config", "axolotl.yml", "--strategies", "padding")
        assert out["capacity"] == 64 and out["micro_batch_size"] == 3 and out["seed"] == 7
        assert out["pad_to_multiple_of"] == 64 and out["num_samples"] == len(MULTI)
        assert out["source"].startswith(f"multi.jsonl, tokenized with {tokenizer_dir}")
        padding = out["strategies"][0]
        assert padding["trainer_tokens"] == 5 * 64  # pad_to_sequence_len: every batch is padded to capacity
        flags = run_json(
            "--config", "axolotl.yml", "--strategies", "padding", "--micro-batch-size", "1", "--capacity", "32"
        )
        assert flags["micro_batch_size"] == 1 and flags["capacity"] == 32

    def test_config_counts_an_alpaca_dataset_as_axolotls_alpaca_prompt(self, tmp_path, tokenizer_dir, monkeypatch):
        """`type: alpaca` trains on Axolotl's Alpaca prompt, tens of tokens longer than the same record as a chat."""
        pytest.importorskip("axolotl.prompters")
        from transformers import AutoTokenizer

        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("PACKBENCH_HOME", str(tmp_path / "home"))
        self.write(tmp_path / "alpaca.jsonl", ALPACA)
        (tmp_path / "axolotl.yml").write_text(
            f"base_model: {tokenizer_dir}\nsequence_len: 256\ndatasets:\n  - {{path: alpaca.jsonl, type: alpaca}}\n"
        )
        as_trained = run_json("--config", "axolotl.yml", "--strategies", "padding")
        as_chats = run_json(
            "alpaca.jsonl", "--capacity", "256", "--tokenizer", str(tokenizer_dir), "--strategies", "padding"
        )
        tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
        prompts = [  # Axolotl's instruct style, without and with an input; the output follows, then the EOS
            "Below is an instruction that describes a task. Write a response that appropriately completes the "
            "request.\n\n### Instruction:\nsay hi\n\n### Response:\nhi there</s>",
            "Below is an instruction that describes a task, paired with an input that provides further context. "
            "Write a response that appropriately completes the request.\n\n### Instruction:\nadd\n\n### Input:\n"
            "1 and 2\n\n### Response:\n3</s>",
        ]
        assert as_trained["input_tokens"] == sum(len(tokenizer(text)["input_ids"]) for text in prompts)
        assert as_trained["input_tokens"] > as_chats["input_tokens"] + 2 * 15
        assert as_trained["source"].startswith("alpaca.jsonl (as Axolotl's alpaca prompt), tokenized with")

    def test_config_with_a_hub_dataset_is_one_sentence(self, tmp_path):
        (tmp_path / "a.yml").write_text("sequence_len: 64\ndatasets:\n  - {path: tatsu-lab/alpaca, type: alpaca}\n")
        result = run("--config", str(tmp_path / "a.yml"))
        assert result.exit_code == 2 and "not a local dataset file" in result.output
        assert result.output.count("\n") == 1

    def test_no_capacity_anywhere_is_one_sentence(self):
        result = run()
        assert result.exit_code == 2 and "pass --capacity" in result.output

    def test_hub_tokenizer_offline_is_one_sentence(self, tmp_path):
        data = self.write(tmp_path / "multi.jsonl", MULTI)
        result = run(str(data), "--capacity", "64", "--tokenizer", "no-such-org/no-such-tokenizer")
        assert result.exit_code == 2, result.output
        assert "could not load the tokenizer 'no-such-org/no-such-tokenizer' from the Hugging Face hub" in result.output
        assert result.output.count("\n") == 1 and "Traceback" not in result.output

    def test_asset_uris_are_echoed_as_written(self, tokenizer_dir):
        out = run_json(
            "packbench://dataset/100", "--capacity", "512", "--tokenizer", str(tokenizer_dir), "--strategies", "bfd"
        )
        assert out["source"].startswith("packbench://dataset/100, tokenized with ")
        assert out["num_samples"] == 100
        bad = run("packbench://dataset/nope", "--capacity", "64")
        assert bad.exit_code == 2 and bad.output.startswith("Error: packbench://dataset/nope: ")


def pack_rows(lengths, capacity: int) -> int:
    from axolotl_packing_bench.packing import pack

    return pack(lengths, capacity, "bfd").num_bins
