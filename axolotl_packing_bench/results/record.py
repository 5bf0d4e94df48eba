"""Turn a run trained by hand (Axolotl + the plugin) into a `RunResult`.

The run's metrics file is looked for in RUN_DIR, then in RUN_DIR/output:
the name its recipe gives (`packbench_metrics_file` in the cell's
`recipe.yml`), else `packbench_metrics.json`. Its cell id is derived from what the metrics say:
`<model>__<dataset>__<strategy>__<attention>-<hash8>`, the model being the
last part of its path and the dataset the stem of its first file, so the
same setup recorded on two machines lands in the same cell. The embedded
tiny models and synthetic datasets are named and sized as a matrix names
them (`labels`: `tiny-8b` of size `8B`, `synth-100 (100)`), so a hand run of a
matrix's set-up lands in that matrix's table; any label can be given.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from axolotl_packing_bench.constants import DEFAULT_ATTENTION, METRICS_FILE, PLUGIN_PATH
from axolotl_packing_bench.matrix.labels import dataset_labels, model_labels
from axolotl_packing_bench.matrix.recipe import run_metrics_name
from axolotl_packing_bench.matrix.spec import make_cell_id, sanitize
from axolotl_packing_bench.results.store import RunResult, now_iso

HAND_MATRIX = "hand"


class RecordError(ValueError):
    """The run directory holds no readable metrics; the message is one sentence."""


def find_metrics(run_dir: str | Path) -> Path:
    """The metrics file of a run directory; `RecordError` when there is none."""
    root = Path(run_dir)
    if not root.exists():
        raise RecordError(f"{root} does not exist; pass the output_dir of a run trained with the packbench plugin")
    names = dict.fromkeys((run_metrics_name(root), METRICS_FILE))
    candidates = [folder / name for name in names for folder in (root, root / "output")] if root.is_dir() else [root]
    for path in candidates:
        if path.is_file():
            return path
    raise RecordError(
        f"{root} has no {next(iter(names))}; train with `plugins: [{PLUGIN_PATH}]` and pass the run's output_dir"
    )


def _name(value: Any, fallback: str) -> str:
    if not value:
        return fallback
    text = str(value).rstrip("/")
    return sanitize(Path(text).name if "/" in text else text)


def _human(count: Any) -> str | None:
    if isinstance(count, bool) or not isinstance(count, (int, float)) or count <= 0:
        return None
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if count >= scale:
            return f"{count / scale:.3g}{suffix}"
    return f"{count:g}"


def result_from_metrics(
    metrics: dict[str, Any],
    *,
    matrix: str = HAND_MATRIX,
    model: str | None = None,
    dataset: str | None = None,
    model_size: str | None = None,
    dataset_size: str | None = None,
    log: str | None = None,
) -> RunResult:
    """A result for hand-run metrics; `model`/`dataset` and the sizes override the derived labels."""
    model_info = metrics.get("model") if isinstance(metrics.get("model"), dict) else {}
    dataset_info = metrics.get("dataset") if isinstance(metrics.get("dataset"), dict) else {}
    paths = dataset_info.get("paths") or []
    first = Path(str(paths[0])).stem if paths else None
    embedded_model = model_labels(str(model_info["path"])) if model_info.get("path") else None
    embedded_dataset = dataset_labels(str(paths[0])) if len(paths) == 1 else None
    if embedded_dataset is None:
        derived_dataset = sanitize(first) + (f"+{len(paths) - 1}" if len(paths) > 1 else "") if first else "dataset"
    else:
        derived_dataset = embedded_dataset[0]
    axes = {
        "model": sanitize(model)
        if model
        else (embedded_model[0] if embedded_model else _name(model_info.get("path"), "model")),
        "dataset": sanitize(dataset) if dataset else derived_dataset,
        "strategy": str(metrics.get("strategy") or "unknown"),
        "attention": str(metrics.get("attention") or DEFAULT_ATTENTION),
    }
    status = "ok" if metrics.get("status", "ok") == "ok" else "failed"
    run_id = (
        metrics.get("run_id")
        or hashlib.sha256(json.dumps(metrics, sort_keys=True, default=str).encode()).hexdigest()[:32]
    )
    return RunResult(
        run_id=str(run_id),
        cell_id=make_cell_id(axes),
        matrix=matrix,
        status=status,
        reason=None if status == "ok" else str(metrics.get("error") or "the plugin recorded a failed run"),
        axes=axes,
        labels={
            "model_size": model_size or (embedded_model[1] if embedded_model else _human(model_info.get("parameters"))),
            "dataset_size": dataset_size
            or (embedded_dataset[1] if embedded_dataset else _human(dataset_info.get("samples"))),
        },
        metrics=metrics,
        recorded_at=now_iso(),
        log=log,
    )


def result_from_run_dir(run_dir: str | Path, **options: Any) -> RunResult:
    """Read RUN_DIR's metrics and build its result (see `result_from_metrics`)."""
    path = find_metrics(run_dir)
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise RecordError(f"{path} is not valid JSON ({error}); rerun the training or fix the file") from None
    if not isinstance(metrics, dict):
        raise RecordError(f"{path} does not hold a JSON object; rerun the training")
    log = next((str(p) for p in (path.parent / "train.log", path.parent.parent / "train.log") if p.is_file()), None)
    return result_from_metrics(metrics, log=log, **options)
