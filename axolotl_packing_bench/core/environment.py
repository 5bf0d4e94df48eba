"""Hardware and software versions: collected for a run, described in the leaderboard.

Collecting never imports torch or Axolotl (package metadata, /proc and
nvidia-smi; torch only when the process has already imported it), so it is
cheap on the driver. The plugin writes these two sections into the metrics
file and the runner fills them when it does not: both from here, so a
result's `versions` does not depend on who wrote it.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Mapping
from importlib import metadata
from typing import Any

_PACKAGES = {
    "axolotl_packing_bench": "axolotl-packing-bench",
    "axolotl": "axolotl",
    "torch": "torch",
    "transformers": "transformers",
    "trl": "trl",
    "accelerate": "accelerate",
}


def collect_versions() -> dict[str, str | None]:
    """Versions of this package, Axolotl, torch, transformers, trl, accelerate and Python."""
    versions: dict[str, str | None] = {}
    for key, distribution in _PACKAGES.items():
        try:
            versions[key] = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            versions[key] = None
    versions["python"] = platform.python_version()
    return versions


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _memory_gb() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def _gpus() -> list[str]:
    torch = sys.modules.get("torch")  # already loaded in a training process: ask it, not a subprocess
    if torch is not None and hasattr(torch, "cuda"):
        try:
            if torch.cuda.is_available():
                return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        except Exception:  # noqa: BLE001 - a broken CUDA set-up still has a CPU to describe
            pass
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (subprocess.SubprocessError, OSError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def collect_hardware() -> dict[str, Any]:
    """CPU name and cores, memory (GiB), GPU name and count (nvidia-smi, if any)."""
    gpus = _gpus()
    return {
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "gpu": gpus[0] if gpus else None,
        "gpu_count": len(gpus),
    }


def describe_versions(versions: Mapping[str, Any] | None) -> str:
    """`axolotl 0.19.0, torch 2.13.0+cpu, ...` (unknown ones left out)."""
    if not isinstance(versions, Mapping):
        return "unknown"
    order = ["axolotl", "torch", "transformers", "python", "axolotl_packing_bench"]
    keys = order + sorted(key for key in versions if key not in order)
    parts = [f"{key} {versions[key]}" for key in keys if versions.get(key)]
    return ", ".join(parts) or "unknown"


def describe_hardware(hardware: Mapping[str, Any] | None) -> str:
    """`<cpu> (2 CPU cores), 23.4 GiB RAM, no GPU` or `... 8 × NVIDIA H100`."""
    if not isinstance(hardware, Mapping):
        return "unknown"
    parts = []
    cpu = hardware.get("cpu")
    cores = hardware.get("cpu_count")
    if cpu or cores:
        parts.append(f"{cpu or 'CPU'}" + (f" ({cores} CPU cores)" if cores else ""))
    if hardware.get("memory_gb"):
        parts.append(f"{hardware['memory_gb']} GiB RAM")
    gpu, count = hardware.get("gpu"), hardware.get("gpu_count") or 0
    if gpu:
        parts.append(f"{count} × {gpu}" if count and count > 1 else str(gpu))
    else:
        parts.append("no GPU")
    return ", ".join(parts)
