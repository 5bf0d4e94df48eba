"""Names and defaults used by more than one part, written once (DESIGN.md: one place per fact).

No imports: the CLI, the bench, the plugin and the eval package all read
these without loading anything heavy. The plugin's config defaults are the
fields of `plugin.args.PackingBenchArgs`, which take them from here.
"""

from __future__ import annotations

PLUGIN_PATH = "axolotl_packing_bench.PackingBenchPlugin"
"""What a recipe lists under `plugins:` to enable the plugin."""

NATIVE = "native"
"""The strategy that hands packing to Axolotl's own `sample_packing` (the reference row)."""

BASELINE_STRATEGY = "padding"
"""The baseline every other strategy is compared with: one sample per row."""

DEFAULT_STRATEGY = "bfd"
"""`packbench_strategy` when a recipe does not set it."""

ATTENTIONS = ("isolated", "shared")
"""Attention between the segments of a packed row."""

DEFAULT_ATTENTION = "isolated"
"""`packbench_attention` when unset, and a matrix's attention axis when absent."""


def sample_packing_for(strategy: str) -> bool:
    """Axolotl's `sample_packing` a strategy needs: on for `native` (Axolotl packs), off for every packbench strategy
    (the plugin builds the rows). The matrix writes it into each recipe; the plugin's config check enforces it."""
    return strategy == NATIVE


NATIVE_ATTENTION = DEFAULT_ATTENTION
"""The only attention `native` runs: Axolotl's sample_packing always isolates segments (the plugin's config
check refuses any other `packbench_attention` with native, and a matrix refuses the combination)."""

DEFAULT_RESULTS = "leaderboard/results.jsonl"
"""Where `packbench run`, `record` and `leaderboard` keep results unless told otherwise (`--results`)."""

DEFAULT_LEADERBOARD = "leaderboard/LEADERBOARD.md"
"""Where the leaderboard is rendered unless told otherwise (`--leaderboard`)."""

METRICS_FILE = "packbench_metrics.json"
"""The plugin's run metrics in `output_dir` (default of `packbench_metrics_file`)."""

DEFAULT_GROUPS_K = 16
"""Groups (k-means clusters) of related/unrelated packing when groups are computed."""

MAX_SAMPLE_LEN_FACTOR = 4
"""`packbench_max_sample_len` defaults to this times `sequence_len`."""

RELIANCE_EFFECTS = ("reliance", "distraction", "unrelated", "few_shot", "fact_use")
"""The context-reliance probe's effects, in display order (`probes.reliance.EFFECTS` keys)."""

URI_SCHEME = "packbench"
"""The scheme of the embedded assets' URIs (`packbench://model/tiny-8b`); `assets.api.parse_asset_uri` reads them."""

URI_PREFIX = f"{URI_SCHEME}://"
"""What every asset URI starts with."""

HELDOUT_CHATS_URI = f"{URI_PREFIX}heldout-chats"
"""The embedded held-out chats (`packbench_heldout`'s suggested file)."""

RELIANCE_DATA = f"{URI_PREFIX}heldout?seed=0"
"""The reliance probe's questions when a matrix's `probes.reliance` names no `data`: the embedded split."""

RELIANCE_K = 3
"""Examples in the reliance probe's few-shot condition (`packbench probe reliance --k`)."""

RELIANCE_BOOTSTRAP = 1000
"""Paired-bootstrap resamples of the reliance probe's confidence intervals (`--bootstrap`)."""

RELIANCE_SEED = 0
"""Seed of the reliance probe's few-shot examples and resamples (`--seed`)."""

SEED_AXIS = "seed"
"""The matrix axis whose values are repeats of one set-up: rows average over it and pair differences by it."""

PROCESSES_AXIS = "num_processes"
"""Training processes per cell (matrix key or axis; `torchrun`/`accelerate launch` ranks); never an Axolotl key."""
