"""Sample lengths from a file: a lengths file, or a chat dataset + tokenizer.

Lengths files: `.npy` (1-D integers), text (`.txt`, `.lengths`, no suffix)
with one integer per line, or a `.json` list of integers.

Chat datasets (`.json` list or `.jsonl`, one record per line), per record:

- ShareGPT: `conversations` of `{"from": "human"|"gpt"|"system", "value": ...}`
- OpenAI: `messages` of `{"role": ..., "content": ...}`
- Alpaca: `instruction`, optional `input`, `output`

Each record is rendered with the tokenizer's chat template when it has one,
else its texts are joined with blank lines; the length is the token count.
`transformers` is imported only when a dataset is read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

TEXT_SUFFIXES = ("", ".txt", ".lengths")
DATASET_SUFFIXES = (".json", ".jsonl")
_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "model": "assistant",
    "bot": "assistant",
    "system": "system",
    "tool": "tool",
}
_BATCH = 1000  # records tokenized per call


class LengthsInputError(ValueError):
    """A lengths file or dataset the user must fix; one sentence."""


def read_lengths(path: Path, tokenizer_dir: Path | None = None) -> np.ndarray:
    """int64 sample lengths from a lengths file or a chat dataset.

    Raises:
        LengthsInputError: missing or unreadable file, unknown format, bad
            records, or a dataset without a usable tokenizer.
    """
    path = Path(path)
    if not path.is_file():
        raise LengthsInputError(
            f"{path} is not a file; pass a lengths file (.npy, or one integer per "
            "line) or a chat dataset (.json or .jsonl)."
        )
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _checked(path, _read_npy(path))
    if suffix in DATASET_SUFFIXES:
        records = read_records(path)
        if all(isinstance(x, int) and not isinstance(x, bool) for x in records):
            return _checked(path, np.asarray(records, dtype=np.int64))  # a lengths list
        if tokenizer_dir is None:
            raise LengthsInputError(
                f"{path.name} is a chat dataset, so counting its tokens needs a "
                "tokenizer; pass a local tokenizer directory with --tokenizer."
            )
        return dataset_lengths(records, load_tokenizer(tokenizer_dir), path.name)
    if suffix in TEXT_SUFFIXES:
        return _checked(path, _read_text(path))
    raise LengthsInputError(
        f"{path.name} has an unknown format {suffix!r}; use .npy, .txt (one integer "
        "per line), or a .json/.jsonl chat dataset."
    )


def _checked(path: Path, lengths: np.ndarray) -> np.ndarray:
    from axolotl_packing_bench.packing.overflow import as_lengths

    try:
        checked = as_lengths(lengths)
    except ValueError as error:
        raise LengthsInputError(f"{path.name}: {error}") from None
    if checked.size == 0:
        raise LengthsInputError(
            f"{path.name} holds no lengths; write one token count per line (or save a non-empty .npy array)."
        )
    return checked


def _read_npy(path: Path) -> np.ndarray:
    try:
        if path.stat().st_size == 0:
            raise LengthsInputError(f"{path.name} is empty; save the lengths with numpy.save(path, lengths).")
        return np.load(path, allow_pickle=False)
    except PermissionError:
        raise LengthsInputError(f"{path} cannot be read (permission denied); make it readable or copy it.") from None
    except (OSError, ValueError, EOFError) as error:  # a truncated file ends in EOFError, which click shows as "Aborted!"
        raise LengthsInputError(
            f"{path.name} is not a .npy array numpy can read ({type(error).__name__}: {error}); "
            "save it with numpy.save(path, lengths)."
        ) from None


def _read_text(path: Path) -> np.ndarray:
    try:
        lines = path.read_text().splitlines()
    except UnicodeDecodeError:
        raise LengthsInputError(
            f"{path.name} is not text; use a .npy file or one integer per line."
        ) from None
    except OSError as error:
        raise LengthsInputError(
            f"{path} cannot be read ({error.strerror or type(error).__name__}); make it readable or pass another file."
        ) from None
    lengths = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            lengths.append(int(line))
        except ValueError:
            raise LengthsInputError(
                f"line {number} of {path.name} is {line.strip()[:40]!r}, not an "
                "integer; put one token count per line."
            ) from None
    return np.asarray(lengths, dtype=np.int64)


def read_records(path: Path) -> list[dict]:
    """The records of a `.json` list or a `.jsonl` file (read as `dataset_files.read_records` reads them)."""
    from axolotl_packing_bench.data.files import read_records as read_dataset_records

    return [record for _, record in read_dataset_records(path, shown=path.name, error=LengthsInputError)]


def to_messages(record: object, where: str) -> list[dict[str, str]]:
    """One record as OpenAI-style `[{"role": ..., "content": ...}]`."""
    if not isinstance(record, dict):
        raise LengthsInputError(
            f"{where} is a JSON {type(record).__name__}, not an object; "
            "each record must be a JSON object."
        )
    if "conversations" in record:
        turns, role_key, text_key = record["conversations"], "from", "value"
    elif "messages" in record:
        turns, role_key, text_key = record["messages"], "role", "content"
    elif "instruction" in record and "output" in record:
        prompt = str(record["instruction"])
        if record.get("input"):
            prompt = f"{prompt}\n\n{record['input']}"
        return [
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": str(record["output"])},
        ]
    else:
        raise LengthsInputError(
            f"{where} has none of 'conversations', 'messages' or "
            "'instruction'/'output'; use ShareGPT, OpenAI or Alpaca format."
        )
    if not isinstance(turns, list) or not all(
        isinstance(t, dict) and role_key in t and text_key in t for t in turns
    ):
        raise LengthsInputError(
            f"{where} has turns without {role_key!r} and {text_key!r}; give every turn both keys."
        )
    return [
        {
            "role": _ROLES.get(str(t[role_key]).lower(), str(t[role_key])),
            "content": _text(t[text_key]),
        }
        for t in turns
    ]


def _text(content: object) -> str:
    if isinstance(content, list):  # OpenAI content parts
        return "".join(
            str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in content
        )
    return "" if content is None else str(content)


def load_tokenizer(directory: Path):
    """`AutoTokenizer` from a local directory, never the network."""
    directory = Path(directory)
    if not directory.is_dir():
        raise LengthsInputError(
            f"tokenizer directory {directory} does not exist; pass a local "
            "directory saved with tokenizer.save_pretrained()."
        )
    try:
        from transformers import AutoTokenizer
    except ImportError:
        from axolotl_packing_bench.core.extras import install_hint

        raise LengthsInputError(
            f"reading a chat dataset needs transformers; run {install_hint('axolotl')} or pass a lengths file."
        ) from None
    try:
        return AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
    except Exception as error:  # transformers raises many kinds here
        raise LengthsInputError(
            f"could not load a tokenizer from {directory} ({type(error).__name__}); "
            "pass a directory saved with tokenizer.save_pretrained()."
        ) from None


def dataset_lengths(records: list, tokenizer, name: str = "dataset") -> np.ndarray:
    """Token count of each record, rendered as the tokenizer would for training."""
    use_template = bool(getattr(tokenizer, "chat_template", None))
    lengths = np.empty(len(records), dtype=np.int64)
    for begin in range(0, len(records), _BATCH):
        texts = []
        for index in range(begin, min(begin + _BATCH, len(records))):
            messages = to_messages(records[index], f"record {index} of {name}")
            if use_template:
                try:
                    texts.append(tokenizer.apply_chat_template(messages, tokenize=False))
                except Exception as error:  # jinja raises its own kinds
                    raise LengthsInputError(
                        f"the tokenizer's chat template failed on record {index} of "
                        f"{name} ({error}); fix the record or the template."
                    ) from None
            else:
                texts.append("\n\n".join(m["content"] for m in messages))
        encoded = tokenizer(texts, add_special_tokens=not use_template, verbose=False)
        lengths[begin : begin + len(texts)] = [len(ids) for ids in encoded["input_ids"]]
    return lengths
