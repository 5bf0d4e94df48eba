"""The embedded word-level tokenizer with a Llama-3-style chat template.

Every lexicon word is one token, with and without a leading space (``Ġword``,
byte-level like Llama 3), and so is every ASCII character, newline included.
The pre-tokenizer splits with `synthetic.TOKEN_PATTERN`, so token counts are
exact and a prefix of a rendered conversation tokenizes to a prefix of its
tokens: Axolotl's `chat_template` strategy finds turn boundaries by diffing
renders, which needs exactly that. Words outside the lexicon become
``<|unk|>``.

Rendering (no ``{% generation %}`` blocks: Axolotl masks non-assistant turns)::

    <|begin_of_text|><|start_header_id|>user<|end_header_id|>\\n\\nHi<|eot_id|>
    <|start_header_id|>assistant<|end_header_id|>\\n\\nHello<|eot_id|>

``<|eot_id|>`` ends every turn; ``<|end_of_text|>`` is the eos token and is
not in the template (as in Llama 3 base), so Axolotl YAMLs set
``eot_tokens: ["<|eot_id|>"]`` to train the turn terminator.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from axolotl_packing_bench.assets.lexicon import lexicon_words
from axolotl_packing_bench.assets.synthetic import TOKEN_PATTERN

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

PAD = "<|pad|>"
BOS = "<|begin_of_text|>"
EOS = "<|end_of_text|>"
UNK = "<|unk|>"
START_HEADER = "<|start_header_id|>"
END_HEADER = "<|end_header_id|>"
EOT = "<|eot_id|>"
# Ids 0..6, in this order.
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK, START_HEADER, END_HEADER, EOT)

MODEL_MAX_LENGTH = 4096

CHAT_TEMPLATE = (
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
    " + message['content'] | trim + '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{%- endif %}"
)


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character map, which ByteLevel uses."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, chars, strict=True)}


def build_vocab() -> dict[str, int]:
    """Token -> id: special tokens, the 256 byte characters, then words."""
    to_char = _bytes_to_unicode()
    space = to_char[ord(" ")]
    tokens: list[str] = list(SPECIAL_TOKENS)
    tokens += [to_char[b] for b in range(256)]
    ascii_symbols = [chr(c) for c in range(33, 127) if not chr(c).isalpha()]
    letters = [chr(c) for c in range(65, 91)] + [chr(c) for c in range(97, 123)]
    tokens += [space + s for s in ascii_symbols + letters]
    known = set(tokens)
    for word in lexicon_words():
        for token in (word, space + word):
            if token not in known:
                known.add(token)
                tokens.append(token)
    return {token: index for index, token in enumerate(tokens)}


def build_tokenizer() -> PreTrainedTokenizerFast:
    """Build the tokenizer in memory; same result every time."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        pre_tokenizers,
        processors,
    )
    from transformers import PreTrainedTokenizerFast

    vocab = build_vocab()
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(TOKEN_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    backend.decoder = decoders.ByteLevel()
    backend.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A",
        pair=f"{BOS} $A {BOS}:1 $B:1",
        special_tokens=[(BOS, vocab[BOS])],
    )
    backend.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        additional_special_tokens=[START_HEADER, END_HEADER, EOT],
        chat_template=CHAT_TEMPLATE,
        model_max_length=MODEL_MAX_LENGTH,
        padding_side="right",
        clean_up_tokenization_spaces=False,
    )


def save_tokenizer(directory: str | Path) -> None:
    """Build the tokenizer and save it (``tokenizer.json`` etc.) to ``directory``."""
    build_tokenizer().save_pretrained(str(directory))
