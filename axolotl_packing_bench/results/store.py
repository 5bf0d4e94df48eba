"""`RunResult`: one line of `results.jsonl`, the leaderboard's source of truth.

The file is append-only JSONL, one schema-versioned object per line::

    {"schema_version": 1, "run_id": "...", "cell_id": "...", "matrix": "smoke",
     "status": "ok|failed|timeout", "reason": null, "axes": {...},
     "labels": {"model_size": "8B", "dataset_size": "69K"},
     "metrics": {...packbench_metrics.json...}, "scores": {}, "judge": {},
     "recorded_at": "2026-11-29T19:00:00+00:00", "log": "runs/smoke/<cell>/train.log"}

Recording the same `run_id` again appends a new line; readers keep only the
latest line of each `run_id` (dedupe at read time), so appends stay cheap,
concurrent-safe and never rewrite what is already on disk. The latest result
of a cell (by line order) is the one the leaderboard shows and resume checks.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import uuid
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from axolotl_packing_bench.core.fileio import append_line, read_lines
from axolotl_packing_bench.core.redaction import redact
from axolotl_packing_bench.results.kinds import check_results_path

SCHEMA_VERSION = 1
K = TypeVar("K", bound=Hashable)
STATUSES = ("ok", "failed", "timeout")


class ResultsError(ValueError):
    """A results line that cannot be read (bad JSON, wrong schema version...)."""


def now_iso() -> str:
    """The current UTC time, ISO 8601 with seconds."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class RunResult:
    """The outcome of one training run of one cell.

    Attributes:
        run_id: Unique per training run (the plugin's `run_id` when there is one).
        cell_id: The matrix cell id (or one derived from the metrics, for `record`).
        matrix: Matrix name ("hand" for runs recorded with `packbench record`).
        status: "ok", "failed" or "timeout".
        reason: One sentence saying why a run did not succeed, else None.
        axes: Axis name -> value label (model, dataset, strategy, attention, ...).
        labels: `model_size` and `dataset_size` labels.
        metrics: The plugin's `packbench_metrics.json` (any field may be missing).
        scores: Evaluation scores (lm-eval tasks), added later; {} when none.
        judge: GPT-judge results, added later; {} when none.
        recorded_at: When the row was written (ISO 8601, UTC).
        log: Path of the training log, when there is one.
        repeat: Which repeat of the cell this is (0 for the first; `packbench run --repeats N`).
        schema_version: Version of this line's layout.
    """

    run_id: str
    cell_id: str
    matrix: str
    status: str
    reason: str | None = None
    axes: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str | None] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    scores: Mapping[str, Any] = field(default_factory=dict)
    judge: Mapping[str, Any] = field(default_factory=dict)
    recorded_at: str = ""
    log: str | None = None
    repeat: int = 0
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ResultsError(f"status {self.status!r} is not one of {', '.join(STATUSES)}")

    @classmethod
    def failed(
        cls,
        cell: Any,
        reason: str,
        *,
        status: str = "failed",
        metrics: Mapping[str, Any] | None = None,
        log: str | None = None,
        run_id: str | None = None,
        repeat: int = 0,
    ) -> RunResult:
        """The result of a cell that did not succeed (`cell`: anything with cell_id, matrix, axes, labels)."""
        return cls(
            run_id=run_id or uuid.uuid4().hex,
            cell_id=cell.cell_id,
            matrix=cell.matrix,
            status=status,
            reason=reason,
            axes=dict(cell.axes),
            labels=dict(cell.labels),
            metrics=dict(metrics or {}),
            recorded_at=now_iso(),
            log=log,
            repeat=repeat,
        )

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def metric(self, *path: str) -> Any:
        """A nested metric, e.g. `metric("training", "runtime_s")`, or None."""
        value: Any = self.metrics
        for key in path:
            if not isinstance(value, Mapping):
                return None
            value = value.get(key)
        return value

    def replace(self, **changes: Any) -> RunResult:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "run_id": self.run_id,
            "cell_id": self.cell_id,
            "matrix": self.matrix,
            "status": self.status,
            "reason": redact(self.reason),
            "axes": dict(self.axes),
            "labels": dict(self.labels),
            "metrics": dict(self.metrics),
            "scores": dict(self.scores),
            "judge": dict(self.judge),
            "recorded_at": self.recorded_at,
            "log": self.log,
            "repeat": self.repeat,
        }

    def to_json(self) -> str:
        """One line of JSON (no newline)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"), default=str)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunResult:
        if not isinstance(data, Mapping):
            raise ResultsError("a results line must be a JSON object")
        version = data.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ResultsError("a results line has no integer schema_version")
        if version > SCHEMA_VERSION:
            raise ResultsError(
                f"a results line has schema_version {version}, newer than this packbench reads ({SCHEMA_VERSION}); "
                "upgrade axolotl-packing-bench"
            )
        missing = [key for key in ("run_id", "cell_id", "matrix", "status") if not isinstance(data.get(key), str)]
        if missing:
            raise ResultsError(f"a results line lacks {', '.join(missing)}")

        def mapping(key: str) -> dict[str, Any]:
            value = data.get(key)
            return dict(value) if isinstance(value, Mapping) else {}

        return cls(
            run_id=data["run_id"],
            cell_id=data["cell_id"],
            matrix=data["matrix"],
            status=data["status"],
            reason=data.get("reason"),
            axes=mapping("axes"),
            labels=mapping("labels"),
            metrics=mapping("metrics"),
            scores=mapping("scores"),
            judge=mapping("judge"),
            recorded_at=str(data.get("recorded_at") or ""),
            log=data.get("log"),
            repeat=data["repeat"]
            if isinstance(data.get("repeat"), int) and not isinstance(data.get("repeat"), bool)
            else 0,
            schema_version=version,
        )

    @classmethod
    def from_json(cls, line: str) -> RunResult:
        """Parse one results line; `ResultsError` on bad JSON or schema."""
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            raise ResultsError(f"a results line is not valid JSON ({error.msg})") from None
        return cls.from_dict(data)


def append_result(path: str | Path, result: RunResult) -> None:
    """Append one result line (locked, fsynced; safe from several processes).

    Raises:
        WrongKindOfFile: `path` holds something other than results (a board, say).
        UnwritableFile: The append failed (full disk, no permission); the file is as it was.
    """
    check_results_path(path)
    append_line(path, result.to_json())


def read_results(path: str | Path, *, warn: bool = True) -> list[RunResult]:
    """Every readable result, latest line per `run_id`, in file order of those lines.

    Lines that cannot be read (a torn line from a crashed writer, a newer
    schema) are skipped, with one warning on stderr when `warn`.
    """
    return results_from_lines(read_lines(path), source=path if warn else None)


def results_from_lines(lines: Iterable[str], *, source: str | Path | None = None) -> list[RunResult]:
    """`read_results` of lines already read; unreadable ones are skipped, with a warning naming `source` when given."""
    parsed: list[RunResult] = []
    bad: list[str] = []
    for line in lines:
        try:
            parsed.append(RunResult.from_json(line))
        except ResultsError as error:
            bad.append(str(error))
    if bad and source is not None:
        print(f"warning: skipped {len(bad)} unreadable line(s) in {source}: {bad[0]}", file=sys.stderr)
    return list(latest_by(parsed, lambda result: result.run_id).values())


def latest_by(results: Iterable[RunResult], key: Callable[[RunResult], K]) -> dict[K, RunResult]:
    """key -> the latest result with that key, each at the position of its latest line (later lines win)."""
    latest: dict[K, RunResult] = {}
    for result in results:
        name = key(result)
        latest.pop(name, None)
        latest[name] = result
    return latest


def latest_of_run(lines: Sequence[str], run_id: str) -> RunResult | None:
    """The latest readable result of `run_id` among raw results lines (read from the end; None when absent)."""
    needle = json.dumps(run_id, ensure_ascii=False)
    for line in reversed(lines):
        if needle not in line:  # cheap filter before parsing
            continue
        try:
            result = RunResult.from_json(line)
        except ResultsError:
            continue
        if result.run_id == run_id:
            return result
    return None


def latest_per_cell(results: Iterable[RunResult]) -> dict[tuple[str, str], RunResult]:
    """(matrix, cell_id) -> the latest result of that cell."""
    return latest_by(results, lambda result: (result.matrix, result.cell_id))


def latest_per_run(results: Iterable[RunResult]) -> dict[tuple[str, str, int], RunResult]:
    """(matrix, cell_id, repeat) -> the latest result of that repeat of the cell (every repeat is kept)."""
    return latest_by(results, lambda result: (result.matrix, result.cell_id, result.repeat))


def done_cells(results: Iterable[RunResult], matrix: str) -> set[str]:
    """Cell ids of `matrix` whose latest result is ok (a rerun skips them)."""
    return {cell for (name, cell), result in latest_per_cell(results).items() if name == matrix and result.ok}


def done_repeats(results: Iterable[RunResult], matrix: str) -> dict[str, set[int]]:
    """Cell id -> the repeat indices of `matrix` whose latest result is ok (resume counts them)."""
    latest: dict[tuple[str, int], RunResult] = {}
    for result in results:
        if result.matrix == matrix:
            latest.pop((result.cell_id, result.repeat), None)
            latest[(result.cell_id, result.repeat)] = result
    done: dict[str, set[int]] = {}
    for (cell, repeat), result in latest.items():
        if result.ok:
            done.setdefault(cell, set()).add(repeat)
    return done
