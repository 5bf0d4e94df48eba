"""The whole check: build the model, pack, check isolation on every path, time them, return the findings."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from axolotl_packing_bench.doctor.shape import ModelShape

Say = Callable[[str], None]


@dataclass(frozen=True)
class Settings:
    """What to run: the shape, how many rows to check and time, and whether to add the leaking path."""

    shape: ModelShape
    device: str
    isolation_rows: int = 2
    warmup: int = 2
    steps: int = 5
    inject_leak: bool = False
    seed: int = 0


@dataclass
class Findings:
    """Everything the check found, ready for the JSON and the markdown table."""

    settings: Settings
    environment: dict[str, Any]
    packing: dict[str, Any]
    isolation: list[Any] = field(default_factory=list)  # isolation.Isolation
    throughput: list[Any] = field(default_factory=list)  # throughput.Throughput
    seconds: float = 0.0

    @property
    def failures(self) -> list[str]:
        """One line per failed isolation check: an isolated path leaking, or the control not leaking."""
        lines = []
        for item in self.isolation:
            if item.passed:
                continue
            if item.isolated:
                lines.append(
                    f"{item.path} leaks: max |Δlogit| {item.max_abs_delta:.3g} > tolerance {item.tolerance:.3g}"
                )
            else:
                lines.append(
                    f"the {item.path} control shows no leakage (max |Δlogit| {item.max_abs_delta:.3g} <= "
                    f"{item.tolerance:.3g}), so this check cannot see a leak"
                )
        return lines

    def as_dict(self) -> dict[str, Any]:
        s = self.settings
        return {
            "environment": self.environment,
            "shape": {**s.shape.__dict__, "parameters": self.environment.get("parameters")},
            "settings": {
                "device": s.device,
                "isolation_rows": s.isolation_rows,
                "warmup": s.warmup,
                "steps": s.steps,
                "inject_leak": s.inject_leak,
                "seed": s.seed,
            },
            "packing": self.packing,
            "isolation": [item.as_dict() for item in self.isolation],
            "throughput": [item.as_dict() for item in self.throughput],
            "failures": self.failures,
            "seconds": round(self.seconds, 1),
        }


def run_check(settings: Settings, say: Say = print) -> Findings:
    """Run the check on `settings.device`, printing progress through `say`."""
    import torch

    from axolotl_packing_bench.doctor import batches, isolation, paths, throughput
    from axolotl_packing_bench.doctor.lengths import SOURCE, shipped_lengths
    from axolotl_packing_bench.doctor.shape import build_model

    started = time.perf_counter()
    shape, device = settings.shape, torch.device(settings.device)
    say(f"building a random-initialised Llama on {device}: {shape.describe()}")
    model = build_model(shape, device, seed=settings.seed)
    environment = describe_environment(device, model)
    say(f"  {environment['parameters'] / 1e6:.1f}M parameters in {time.perf_counter() - started:.1f}s")

    lengths = shipped_lengths()
    packed = batches.pack_lengths(lengths, shape.row_tokens, shape.vocab, seed=settings.seed)
    packing = {
        "lengths": SOURCE,
        "samples": len(lengths),
        "strategy": batches.STRATEGY,
        "row_tokens": shape.row_tokens,
        "rows": packed.rows.num_rows,
        "efficiency": round(packed.efficiency, 4),
    }
    say(
        f"packed {len(lengths)} samples ({SOURCE}) with {batches.STRATEGY} into {packed.rows.num_rows} rows of "
        f"{shape.row_tokens} tokens, {100 * packed.efficiency:.1f}% full"
    )
    findings = Findings(settings=settings, environment=environment, packing=packing)

    checked = isolation.rows_to_check(packed, settings.isolation_rows)
    available = paths.available_paths(device.type, shape.dtype, inject_leak=settings.inject_leak)
    for path in available:
        result = isolation.check_isolation(model, packed, checked, path, dtype=shape.dtype, device=device)
        findings.isolation.append(result)
        verdict = "ok" if result.passed else "FAILED"
        say(
            f"isolation {path.name:<34} max |Δlogit| {result.max_abs_delta:.3g} over {result.segments} segments "
            f"(tolerance {result.tolerance:.3g}, {'must leak' if not path.isolated else 'must not leak'}): {verdict}"
        )

    timed = throughput.timed_rows(packed, settings.warmup + settings.steps)
    for path in [throughput.PADDING, *(p for p in available if p.isolated and not p.mask_2d)]:
        result = throughput.measure(model, packed, timed, path, warmup=settings.warmup, device=device)
        findings.throughput.append(result)
        memory = f", peak {result.peak_memory_gib:.2f} GiB" if result.peak_memory_gib is not None else ""
        kernels = f", kernel {', '.join(result.kernels)}" if result.kernels else ""
        say(
            f"throughput {path.name:<33} {result.real_tokens_per_second:,.0f} real tokens/s "
            f"(median of {result.steps} steps){memory}{kernels}"
        )
    findings.seconds = time.perf_counter() - started
    return findings


def describe_environment(device: Any, model: Any) -> dict[str, Any]:
    """Device name, versions and the model's parameter count."""
    import importlib.metadata

    import torch

    from axolotl_packing_bench.core.environment import (
        collect_hardware,
        collect_versions,
    )

    versions = collect_versions()
    for name in ("numpy", "flash-attn"):
        try:
            versions[name.replace("-", "_")] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name.replace("-", "_")] = None
    hardware = collect_hardware()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU: {hardware['cpu']}"
    return {
        "device": name,
        "device_type": device.type,
        "versions": versions,
        "hardware": hardware,
        "cuda": torch.version.cuda,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
