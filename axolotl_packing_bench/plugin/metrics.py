"""`packbench_metrics.json`: what one training run measured, written atomically.

The recorder is filled in as the run goes (packing, leakage, training) and
written at the end; if the run fails, whatever was known is written with
`status: failed` and the error. Versions and hardware come from
`core.environment`, as the runner's do; every string goes through
`core.redaction` on its way to the file.
"""

from __future__ import annotations

import json
import resource
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from axolotl_packing_bench.core.environment import collect_hardware, collect_versions
from axolotl_packing_bench.core.fileio import atomic_write_text
from axolotl_packing_bench.core.redaction import redact_all
from axolotl_packing_bench.plugin.row_log import process_rank

METRICS_SCHEMA_VERSION = 1


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def peak_memory_mb() -> float:
    """Peak GPU memory allocated if a GPU is in use, else the process's peak RSS."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.max_memory_allocated() > 0:
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def write_metrics(path: Path, payload: dict[str, Any]) -> None:
    """Write the metrics atomically, every string in them redacted (no secret reaches the file)."""
    atomic_write_text(path, json.dumps(redact_all(payload), indent=2, sort_keys=True) + "\n")


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
            "processes": None,
            "peak_memory_mb": None,
            "leakage": None,
            "versions": collect_versions(),
            "hardware": None,
            "started_at": utc_now(),
            "finished_at": None,
        }
        self.written = False

    def update(self, **sections: Any) -> None:
        self.data.update(sections)

    def finish(self, *, status: str, error: str | None = None) -> None:
        """Stamp the end of the run and write the file (once, by the first process when there are several)."""
        if self.written or process_rank() != 0:
            return
        self.data.update(
            status=status,
            error=error,
            finished_at=utc_now(),
            peak_memory_mb=peak_memory_mb(),
            hardware=collect_hardware(),
        )
        write_metrics(self.path, self.data)
        self.written = True
