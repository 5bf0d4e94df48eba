"""Sample lengths from a file: a lengths file, or a chat dataset + tokenizer.

Lengths files: `.npy` (1-D integers), text (`.txt`, `.lengths`, no suffix)
with one integer per line, or a `.json` list of integers.

Chat datasets (`.json` list or `.jsonl`, one record per line), per record:

- ShareGPT: `conversations` of `{"from": "human"|"gpt"|"system", "value": ...}`
- OpenAI: `messages` of `{"role": ..., "content": ...}`
- Alpaca: `instruction`, optional `input`, `output`

Each record is rendered with the tokenizer's chat template when it has one,
else its texts are joined with blank lines; the length is the token count.
Counts are cached per dataset, tokenizer and template (`lengths_cache`).
A record's turns are its assistant messages (one exchange per answer).
`transformers` is imported only when a dataset is read.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
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
_BATCH = 256  # records tokenized per call (and per step of the progress bar)


class LengthsInputError(ValueError):
    """A lengths file or dataset the user must fix; one sentence."""


@dataclass(frozen=True)
class Samples:
    """What `packbench stats` knows of a source's samples.

    Attributes:
        lengths: int64 tokens per sample.
        turns: assistant turns per sample (chat datasets only, else None).
        ids: every sample's token ids end to end (chat datasets only, else None).
        pad_token_id: the tokenizer's pad token (chat datasets only).
        cached: whether the tokens came from the lengths cache.
        cache_key: the lengths cache's key of the dataset and tokenizer (chat datasets only).
    """

    lengths: np.ndarray
    turns: np.ndarray | None = None
    ids: np.ndarray | None = None
    pad_token_id: int | None = None
    cached: bool = False
    cache_key: str | None = None


def read_samples(
    path: Path, tokenizer: str | Path | None = None, *, progress: bool = True, prompt_format: str | None = None
) -> Samples:
    """`read_lengths`, plus a chat dataset's turns and token ids (tokenized once, then from the lengths cache).

    `tokenizer` is a local directory, a hub id or `packbench://tokenizer`. `prompt_format`: render the records
    as a recipe's non-chat dataset type does (`data.prompt_formats`, e.g. `alpaca`) instead of as chats.
    """
    path = Path(path)
    if path.is_file() and path.suffix.lower() in DATASET_SUFFIXES:
        records = read_records(path)
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in records):
            if tokenizer is None:
                raise LengthsInputError(
                    f"{path.name} is a chat dataset, so counting its tokens needs a "
                    "tokenizer; pass a local tokenizer directory or a hub id with --tokenizer."
                )
            turns = record_turns(records, path.name)  # checks every record's format before any tokenizing
            return _tokenized(path, records, turns, tokenizer, progress, prompt_format)
    return Samples(read_lengths(path, None))


def _tokenized(
    path: Path, records: list, turns: np.ndarray, tokenizer: str | Path, progress: bool, prompt_format: str | None
) -> Samples:
    """The samples of a chat dataset, from the lengths cache or tokenized (and cached)."""
    from axolotl_packing_bench.data import lengths_cache

    folder = tokenizer_folder(tokenizer)
    loaded = None if folder is not None else load_tokenizer(tokenizer)
    identity = lengths_cache.folder_digest(folder) if folder is not None else lengths_cache.tokenizer_digest(loaded)
    key = lengths_cache.entry_key(path, identity + (f"|{prompt_format}" if prompt_format else ""))

    def tokenize() -> dict[str, np.ndarray]:
        used = loaded if loaded is not None else load_tokenizer(tokenizer)
        ids, lengths = tokenize_records(records, used, path.name, progress=progress, prompt_format=prompt_format)
        pad = getattr(used, "pad_token_id", None)
        return {"ids": ids, "lengths": lengths, "pad_token_id": np.asarray([-1 if pad is None else int(pad)])}

    arrays, cached = lengths_cache.cached_arrays(key, "tokens", tokenize)
    pad = int(arrays["pad_token_id"][0])
    return Samples(arrays["lengths"], turns, arrays["ids"], None if pad < 0 else pad, cached, key)


def record_turns(records: list, name: str = "dataset") -> np.ndarray:
    """Assistant turns of each record (an Alpaca record has one)."""
    return np.asarray(
        [
            sum(m["role"] == "assistant" for m in to_messages(record, f"record {index} of {name}"))
            for index, record in enumerate(records)
        ],
        dtype=np.int64,
    )


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
    except (
        OSError,
        ValueError,
        EOFError,
    ) as error:  # a truncated file ends in EOFError, which click shows as "Aborted!"
        raise LengthsInputError(
            f"{path.name} is not a .npy array numpy can read ({type(error).__name__}: {error}); "
            "save it with numpy.save(path, lengths)."
        ) from None


def _read_text(path: Path) -> np.ndarray:
    try:
        lines = path.read_text().splitlines()
    except UnicodeDecodeError:
        raise LengthsInputError(f"{path.name} is not text; use a .npy file or one integer per line.") from None
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
                f"line {number} of {path.name} is {line.strip()[:40]!r}, not an integer; put one token count per line."
            ) from None
    return np.asarray(lengths, dtype=np.int64)


def read_records(path: Path) -> list[dict]:
    """The records of a `.json` list or a `.jsonl` file (read as `data.files.read_records` reads them)."""
    from axolotl_packing_bench.data.files import read_records as read_dataset_records

    return [record for _, record in read_dataset_records(path, shown=path.name, error=LengthsInputError)]


def to_messages(record: object, where: str) -> list[dict[str, str]]:
    """One record as OpenAI-style `[{"role": ..., "content": ...}]`."""
    if not isinstance(record, dict):
        raise LengthsInputError(
            f"{where} is a JSON {type(record).__name__}, not an object; each record must be a JSON object."
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
    if not isinstance(turns, list) or not all(isinstance(t, dict) and role_key in t and text_key in t for t in turns):
        raise LengthsInputError(f"{where} has turns without {role_key!r} and {text_key!r}; give every turn both keys.")
    return [
        {
            "role": _ROLES.get(str(t[role_key]).lower(), str(t[role_key])),
            "content": _text(t[text_key]),
        }
        for t in turns
    ]


def _text(content: object) -> str:
    if isinstance(content, list):  # OpenAI content parts
        return "".join(str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in content)
    return "" if content is None else str(content)


def tokenizer_folder(spec: str | Path) -> Path | None:
    """The local folder a tokenizer setting names (`packbench://tokenizer` built on demand), or None for a hub id.

    Raises:
        LengthsInputError: a local-looking path that is not a folder, or an unknown asset.
    """
    from axolotl_packing_bench.assets.uri import is_asset_uri

    text = str(spec)
    if is_asset_uri(text):
        from axolotl_packing_bench.assets import resolve_asset_uri

        try:
            text = resolve_asset_uri(text)
        except ValueError as error:
            raise LengthsInputError(f"--tokenizer {spec}: {error}") from None
    directory = Path(text).expanduser()
    if not directory.exists() and not text.startswith(("/", "./", "../", "~")) and len(Path(text).parts) <= 2:
        return None  # e.g. meta-llama/Llama-3.1-8B
    if not directory.is_dir():
        raise LengthsInputError(
            f"tokenizer directory {directory} does not exist; pass a local "
            "directory saved with tokenizer.save_pretrained(), or a hub id such as org/name."
        )
    return directory


def load_tokenizer(spec: str | Path):
    """`AutoTokenizer` from a local directory, `packbench://tokenizer`, or a hub id (where the hub is reachable)."""
    directory = tokenizer_folder(spec)
    text = str(spec)
    hub_id = directory is None
    try:
        from transformers import AutoTokenizer
    except ImportError:
        from axolotl_packing_bench.core.extras import install_hint

        raise LengthsInputError(
            f"reading a chat dataset needs transformers; run {install_hint('axolotl')} or pass a lengths file."
        ) from None
    if hub_id:
        try:
            return AutoTokenizer.from_pretrained(text)
        except Exception as error:  # noqa: BLE001 - offline, unknown repo, gated: transformers raises many kinds
            raise LengthsInputError(
                f"could not load the tokenizer {text!r} from the Hugging Face hub ({type(error).__name__}; "
                "offline, unreachable or no such repo); run where the hub is reachable, or pass a local "
                "directory saved with tokenizer.save_pretrained()."
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
    return tokenize_records(records, tokenizer, name)[1]


def tokenize_records(
    records: list, tokenizer, name: str = "dataset", *, progress: bool = False, prompt_format: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(every record's token ids end to end, int64 tokens per record), rendered as for training.

    With `progress`, a bar on stderr when the records are more than one batch. With `prompt_format`
    (`alpaca[:style]`), each record as that Axolotl dataset type tokenizes it (`data.prompt_formats`).
    """
    if prompt_format is not None:
        return _prompt_format_records(records, tokenizer, name, prompt_format)
    use_template = bool(getattr(tokenizer, "chat_template", None))
    lengths = np.empty(len(records), dtype=np.int64)
    pieces: list[np.ndarray] = []
    starts = range(0, len(records), _BATCH)
    if progress and len(records) > _BATCH:
        from tqdm import tqdm

        starts = tqdm(
            starts, desc=f"tokenizing {name} (cached for next time)", unit="batch", file=sys.stderr, leave=False
        )
    for begin in starts:
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
        pieces.extend(np.asarray(ids, dtype=np.int64) for ids in encoded["input_ids"])
    ids = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
    return ids, lengths


def _prompt_format_records(records: list, tokenizer, name: str, prompt_format: str) -> tuple[np.ndarray, np.ndarray]:
    """`tokenize_records` for a recipe's non-chat dataset type (one record at a time, as Axolotl tokenizes)."""
    from axolotl_packing_bench.data.prompt_formats import PromptFormatError, alpaca_ids

    pieces = []
    for index, record in enumerate(records):
        try:
            record_ids = alpaca_ids(record, tokenizer, prompt_format, f"record {index} of {name}")
        except PromptFormatError as error:
            raise LengthsInputError(str(error)) from None
        pieces.append(np.asarray(record_ids, dtype=np.int64))
    lengths = np.asarray([piece.shape[0] for piece in pieces], dtype=np.int64)
    ids = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
    return ids, lengths
