"""transformers internals, imported here and nowhere else (see the `compat` package docstring).

    from axolotl_packing_bench.compat.transformers_api import sdpa_mask
"""

from __future__ import annotations

from axolotl_packing_bench.compat.internals import Internal, lazy_names

TESTED = ("5.16.1", "5.20.1")
"""The transformers releases CI runs beside the oldest and newest Axolotl."""


def _internal(name: str, *locations: str) -> Internal:
    return Internal(name=name, distribution="transformers", locations=locations, tested=TESTED,
                    adapter="transformers_api.py")


INTERNALS: dict[str, Internal] = {
    item.name: item
    for item in (
        _internal("AttentionInterface", "transformers:AttentionInterface",
                  "transformers.modeling_utils:AttentionInterface"),
        _internal("AttentionMaskInterface", "transformers.masking_utils:AttentionMaskInterface"),
        _internal("sdpa_mask", "transformers.masking_utils:sdpa_mask"),
        _internal("sdpa_attention_forward", "transformers.integrations.sdpa_attention:sdpa_attention_forward"),
    )
}

__getattr__ = lazy_names(INTERNALS, globals())
