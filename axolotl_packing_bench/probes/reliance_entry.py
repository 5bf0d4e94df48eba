"""The reliance probe's registry entry: its settings, how it runs on a trained cell, its leaderboard columns.

A matrix asks for it with::

    probes:
      reliance: {max_questions: 40, bootstrap: 200, generate: false}

Each cell's `reliance.json` and `probe.log` are written beside its run; the
report is stored as the cell's `metrics["reliance"]`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from axolotl_packing_bench.constants import RELIANCE_DATA, RELIANCE_EFFECTS
from axolotl_packing_bench.core.procguard import guard_argv
from axolotl_packing_bench.probes.registry import Probe, ProbeColumn

SETTINGS: dict[str, type | tuple[type, ...]] = {
    "data": str,
    "k": int,
    "bootstrap": int,
    "seed": int,
    "max_questions": int,
    "generate": bool,
    "threads": int,
}
"""The settings schema: the options of `packbench probe reliance`, by their matrix names."""


def run_on_cell(run_dir: Path, settings: Mapping[str, Any]) -> dict[str, Any]:
    """`packbench probe reliance` on a trained cell's `output/`, in its own process. Never raises.

    Returns the probe's JSON, or `{"error": ...}` naming what went wrong.
    """
    settings = {"data": RELIANCE_DATA, **settings}
    out = run_dir / "reliance.json"
    argv = [
        sys.executable,
        "-m",
        "axolotl_packing_bench.cli",
        "probe",
        "reliance",
        "--model",
        str(run_dir / "output"),
        "--data",
        str(settings["data"]),
        "--json",
        str(out),
    ]
    for key in ("k", "bootstrap", "seed", "max_questions", "threads"):
        if settings.get(key) is not None:
            argv += [f"--{key.replace('_', '-')}", str(settings[key])]
    if settings.get("generate") is False:
        argv.append("--no-generate")
    with open(run_dir / "probe.log", "w", encoding="utf-8") as log:
        # under the guard: the probe dies with the runner
        status = subprocess.call(guard_argv(argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if status != 0 or not out.exists():
        return {"error": f"the reliance probe exited with status {status}; see {run_dir / 'probe.log'}"}
    return json.loads(out.read_text(encoding="utf-8"))


def _effect_mean(effect: str) -> Callable[[Any], Any]:
    return lambda result: result.metric("reliance", "effects", effect, "answer_loss", "mean")


def _effect_ci(effect: str) -> Callable[[Any], str]:
    def note(result: Any) -> str:
        low_high = result.metric("reliance", "effects", effect, "answer_loss", "ci")
        return f" [{low_high[0]:+.4f}, {low_high[1]:+.4f}]" if isinstance(low_high, list) and len(low_high) == 2 else ""

    return note


def columns(results: Iterable[Any]) -> list[ProbeColumn]:
    """One column per effect some result measured: the mean change of answer loss, its 95% interval after it."""
    measured = set()
    for result in results:
        effects = result.metric("reliance", "effects")
        if isinstance(effects, Mapping):
            measured |= {effect for effect in RELIANCE_EFFECTS if isinstance(effects.get(effect), Mapping)}
    return [
        ProbeColumn(f"{effect} (Δ answer loss)", _effect_mean(effect), "+.4f", "abs", "", note=_effect_ci(effect))
        for effect in RELIANCE_EFFECTS
        if effect in measured
    ]


def _table(report: Mapping[str, Any]) -> str:
    from axolotl_packing_bench.probes.reliance import format_table

    return format_table(report)


PROBE = Probe(
    name="reliance",
    settings=SETTINGS,
    run=run_on_cell,
    columns=columns,
    summary="how much answers depend on related, conflicting or unrelated context, and on few-shot examples",
    table=_table,
)
