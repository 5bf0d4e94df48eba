"""One redaction for every string that reaches a file."""

from __future__ import annotations

import json

from axolotl_packing_bench.core.redaction import REDACTED, redact, redact_all

HF = "hf_abcdefghijklmnopqrstuvwxyz123"
SK = "sk-abcdefghijklmnopqrstuvwxyz0123"


def test_redact_keys_tokens_and_assignments():
    assert redact(f"auth failed for {HF}") == f"auth failed for {REDACTED}"
    assert redact(f"Bearer {SK} rejected") == f"Bearer {REDACTED} rejected"
    assert redact("OPENAI_API_KEY=abc123xyz") == f"OPENAI_{REDACTED}"
    assert redact("loss 5.1, token count 12") == "loss 5.1, token count 12"
    assert redact(None) is None


def test_redact_all_reaches_every_string_at_any_depth():
    payload = {
        "error": f"ValueError: bad key {SK}",
        "nested": {"list": [HF, 3, None, {"k": f"password: {SK}"}]},
        "n": 1.5,
        "ok": True,
    }
    cleaned = redact_all(payload)
    text = json.dumps(cleaned)
    assert SK not in text and HF not in text
    assert cleaned["nested"]["list"][1:3] == [3, None] and cleaned["n"] == 1.5 and cleaned["ok"] is True
    assert payload["error"].endswith(SK)  # the input is left as it was


def test_results_use_the_same_redaction():
    from axolotl_packing_bench.results import store as results

    assert results.redact(f"x {HF}") == redact(f"x {HF}")
