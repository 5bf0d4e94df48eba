"""`packbench://` asset URIs, parsed in one place (pure: no asset is built here).

packbench://model/tiny-8b          kind "model",   name "tiny-8b"
packbench://dataset/500?seed=1     kind "dataset", name "500", query {"seed": "1"}
packbench://heldout-chats          kind "heldout-chats", name ""
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from axolotl_packing_bench.constants import URI_PREFIX


@dataclass(frozen=True)
class AssetUri:
    """The parts of one asset URI: its kind (the host), name (the path) and query (last value of each key)."""

    kind: str
    name: str
    query: dict[str, str] = field(default_factory=dict)


def is_asset_uri(value: object) -> bool:
    """Whether `value` is a string naming an embedded asset (`packbench://...`)."""
    return isinstance(value, str) and value.startswith(URI_PREFIX)


def parse_asset_uri(value: object) -> AssetUri | None:
    """The parts of an asset URI; None for anything else (a path, a hub id, a non-string)."""
    if not is_asset_uri(value):
        return None
    parts = urlsplit(str(value))
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    return AssetUri(kind=parts.netloc, name=parts.path.strip("/"), query=query)


def asset_uri(kind: str, name: str = "") -> str:
    """The URI of an asset: `asset_uri("model", "tiny-8b")` is `packbench://model/tiny-8b`."""
    return f"{URI_PREFIX}{kind}" + (f"/{name}" if name else "")
