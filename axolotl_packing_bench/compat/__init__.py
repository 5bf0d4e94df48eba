"""The one place that imports Axolotl's and transformers' internals.

Axolotl and transformers move internal functions between releases. Every
module of this package that needs one imports it from here instead:

- `axolotl_api`: dataset preparation, tokenizer loading, the config schema
  and validation, the plugin base class and manager, the train CLI.
- `transformers_api`: the attention and attention-mask registries, the
  sdpa functions the varlen attention falls back to, and whether a model's
  forward and loss are transformers' own (for the trained-positions loss).

Each exposed name is a table entry (`Internal`) listing where the supported
releases keep it, newest first, and is imported on first use, so importing
this package costs nothing. When a release moves a name, the first use (and
`tests/compat/test_compat.py`) fails with one sentence naming the name, the
installed version and the file to teach. Public top-level names
(`transformers.AutoTokenizer`, `TrainerCallback`, `LlamaConfig`...) are
stable API and are imported where they are used.
"""

from __future__ import annotations

from axolotl_packing_bench.compat.internals import Internal, InternalMoved, installed_version, resolve

__all__ = ["Internal", "InternalMoved", "installed_version", "resolve"]
