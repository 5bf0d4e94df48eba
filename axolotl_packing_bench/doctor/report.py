"""The check's markdown table and JSON file."""

from __future__ import annotations

import json
from pathlib import Path

from axolotl_packing_bench.constants import BASELINE_STRATEGY
from axolotl_packing_bench.core.environment import describe_versions
from axolotl_packing_bench.core.fileio import atomic_write_text
from axolotl_packing_bench.doctor.check import Findings


def markdown(findings: Findings) -> str:
    """Device, versions, shape and packing, then an isolation table and a throughput table."""
    env, shape, packing = findings.environment, findings.settings.shape, findings.packing
    cuda = f" (CUDA {env['cuda']})" if env.get("cuda") and env["device_type"] == "cuda" else ""
    lines = [
        f"# packbench doctor: {env['device']}",
        "",
        f"- device: {env['device']}{cuda}",
        f"- versions: {describe_versions(env['versions'])}",
        f"- model: random-initialised Llama, {env['parameters'] / 1e6:.1f}M parameters: {shape.describe()}",
        (
            f"- data: {packing['samples']} samples' lengths ({packing['lengths']}), {packing['strategy']} into "
            f"{packing['rows']} rows of {packing['row_tokens']} tokens, {100 * packing['efficiency']:.1f}% full"
        ),
        (
            f"- run: {findings.settings.warmup} warm-up + {findings.settings.steps} timed steps per path, "
            f"{findings.seconds:.0f}s in all"
        ),
        "",
        "## Isolation: each packed segment's logits against the same segment alone",
        "",
        "| path | rows | segments | max abs Δlogit | tolerance | verdict |",
        "| --- | --- | --- | ---: | ---: | --- |",
    ]
    for item in findings.isolation:
        verdict = (
            ("leaks (expected)" if item.leaks else "NO LEAK: check blind")
            if not item.isolated
            else ("isolated" if not item.leaks else "LEAKS")
        )
        lines.append(
            f"| {item.path} | {'isolated' if item.isolated else 'shared'} | {item.segments} | "
            f"{item.max_abs_delta:.3g} | {item.tolerance:.3g} | {verdict} |"
        )
    padding = next((t for t in findings.throughput if t.path == BASELINE_STRATEGY), None)
    lines += [
        "",
        "## Throughput: forward + backward, same samples each step",
        "",
        (
            "| path | real tokens/step | computed tokens/step | median step (s) | real tokens/s | vs padding | "
            "peak memory (GiB) | kernel |"
        ),
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for item in findings.throughput:
        ratio = f"{item.real_tokens_per_second / padding.real_tokens_per_second:.2f}x" if padding else "n/a"
        memory = f"{item.peak_memory_gib:.2f}" if item.peak_memory_gib is not None else "n/a (CPU)"
        kernel = ", ".join(item.kernels) if item.kernels else ""
        lines.append(
            f"| {item.path} | {item.real_tokens_per_step:,.0f} | {item.computed_tokens_per_step:,.0f} | "
            f"{item.median_step_seconds:.4f} | {item.real_tokens_per_second:,.0f} | {ratio} | {memory} | "
            f"{kernel} |"
        )
    failures = findings.failures
    lines += [
        "",
        "Verdict: "
        + (
            "every isolated path isolates and the shared control leaks."
            if not failures
            else "FAILED: " + "; ".join(failures) + "."
        ),
    ]
    return "\n".join(lines) + "\n"


def write_json(findings: Findings, path: Path) -> None:
    atomic_write_text(path, json.dumps(findings.as_dict(), indent=2) + "\n")


def write_markdown(findings: Findings, path: Path) -> None:
    atomic_write_text(path, markdown(findings))
