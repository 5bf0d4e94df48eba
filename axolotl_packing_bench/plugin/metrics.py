"""`packbench_metrics.json`: what one training run measured, written atomically.

The recorder is filled in as the run goes (packing, leakage, training) and
written at the end; if the run fails, whatever was known is written with
`status: failed` and the error.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
import tempfile
import uuid
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

METRICS_SCHEMA_VERSION = 1


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def package_versions() -> dict[str, str | None]:
    """Versions of this package and of the stack it measures."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in ("axolotl-packing-bench", "axolotl", "torch", "transformers", "trl", "accelerate"):
        try:
            versions[name.replace("-", "_")] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name.replace("-", "_")] = None
    return versions


def hardware() -> dict[str, Any]:
    """CPU, memory and GPU of this machine."""
    info: dict[str, Any] = {
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "gpu": None,
        "gpu_count": 0,
    }
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["gpu_count"] = torch.cuda.device_count()
    return info


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def peak_memory_mb() -> float:
    """Peak GPU memory allocated if a GPU is in use, else the process's peak RSS."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.max_memory_allocated() > 0:
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON so that a reader never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RunMetrics:
    """Collects one run's metrics; `write()` puts them in the output directory."""

    def __init__(self, *, path: Path, strategy: str, attention: str, eval_strategy: str, capacity: int):
        self.path = path
        self.data: dict[str, Any] = {
            "schema_version": METRICS_SCHEMA_VERSION,
            "run_id": uuid.uuid4().hex,
            "status": "running",
            "error": None,
            "strategy": strategy,
            "attention": attention,
            "eval_strategy": eval_strategy,
            "capacity": capacity,
            "model": {"path": None, "parameters": None},
            "dataset": {"paths": [], "samples": None, "real_tokens": None},
            "packing": None,
            "eval_packing": None,
            "training": None,
            "peak_memory_mb": None,
            "leakage": None,
            "versions": package_versions(),
            "hardware": None,
            "started_at": utc_now(),
            "finished_at": None,
        }
        self.written = False

    def update(self, **sections: Any) -> None:
        self.data.update(sections)

    def finish(self, *, status: str, error: str | None = None) -> None:
        """Stamp the end of the run and write the file (once)."""
        if self.written:
            return
        self.data.update(
            status=status,
            error=error,
            finished_at=utc_now(),
            peak_memory_mb=peak_memory_mb(),
            hardware=hardware(),
        )
        write_json_atomic(self.path, self.data)
        self.written = True
