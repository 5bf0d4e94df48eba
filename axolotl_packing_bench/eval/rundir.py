"""A trained run directory: where its model is, its run id and its metrics.

RUN_DIR is Axolotl's ``output_dir`` (the saved model and
``packbench_metrics.json``, or the name the run's recipe gives in
``packbench_metrics_file``), or a matrix cell's folder
``runs/<matrix>/<cell_id>/`` holding it as ``output/``. A LoRA run (an
``adapter_config.json`` instead of full weights) is evaluated as its base
model plus the adapter.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axolotl_packing_bench.constants import METRICS_FILE
from axolotl_packing_bench.eval.errors import EvalError
from axolotl_packing_bench.matrix.recipe import run_metrics_name

__all__ = ["JUDGE_FILE", "METRICS_FILE", "SCORES_FILE", "RunDir", "open_run_dir"]
SCORES_FILE = "packbench_scores.json"
JUDGE_FILE = "packbench_judge.json"

_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
_SEED = re.compile(r"-seed(\d+)")


@dataclass(frozen=True)
class RunDir:
    """A run directory that holds a loadable model.

    Attributes:
        path: The directory holding the model (the output_dir).
        model_path: What `from_pretrained` loads: ``path``, or the base model
            of a LoRA adapter.
        adapter_path: The adapter directory of a LoRA run, else None.
        metrics: ``packbench_metrics.json`` ({} when the run has none).
        run_id: The plugin's run id, or None when there are no metrics.
        seed: Seed of the synthetic data the run trained on (0 when unknown):
            the offline tasks ask that seed's facts.
    """

    path: Path
    model_path: str
    adapter_path: Path | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    seed: int = 0

    @property
    def strategy(self) -> str | None:
        value = self.metrics.get("strategy")
        return str(value) if value else None

    def group_key(self) -> tuple[str, tuple[str, ...]]:
        """(model path, dataset paths): runs a padding baseline is compared within."""
        model = self.metrics.get("model") if isinstance(self.metrics.get("model"), dict) else {}
        dataset = self.metrics.get("dataset") if isinstance(self.metrics.get("dataset"), dict) else {}
        return str(model.get("path") or ""), tuple(str(p) for p in dataset.get("paths") or [])


def _has_model(path: Path) -> bool:
    if not (path / "config.json").is_file() and not (path / "adapter_config.json").is_file():
        return False
    return (
        (path / "adapter_config.json").is_file()
        or any((path / name).is_file() for name in _WEIGHTS)
        or any(path.glob("model-*.safetensors"))
    )


def data_seed(metrics: dict[str, Any]) -> int:
    """The ``-seed<N>`` of the run's first dataset file, else 0."""
    dataset = metrics.get("dataset") if isinstance(metrics.get("dataset"), dict) else {}
    for path in dataset.get("paths") or []:
        match = _SEED.search(Path(str(path)).name)
        if match:
            return int(match.group(1))
    return 0


def open_run_dir(run_dir: str | Path) -> RunDir:
    """Find the model and metrics of RUN_DIR; `EvalError` when there is no model."""
    root = Path(run_dir).expanduser()
    if not root.exists():
        raise EvalError(f"run directory {root} does not exist; pass the output_dir of a trained run")
    if not root.is_dir():
        raise EvalError(f"{root} is not a directory; pass the output_dir of a trained run")
    candidates = [root, root / "output"]
    path = next((c for c in candidates if _has_model(c)), None)
    if path is None:
        raise EvalError(
            f"{root} holds no saved model (config.json and weights); train with Axolotl so that it saves the "
            "final model in output_dir, and pass that directory"
        )
    metrics: dict[str, Any] = {}
    names = dict.fromkeys((run_metrics_name(root), METRICS_FILE))
    metrics_path = next((c / name for name in names for c in (path, root) if (c / name).is_file()), None)
    if metrics_path is not None:
        try:
            loaded = json.loads(metrics_path.read_text(encoding="utf-8"))
        except ValueError:
            raise EvalError(f"{metrics_path} is not valid JSON; rerun the training or delete the file") from None
        metrics = loaded if isinstance(loaded, dict) else {}
    adapter = path if (path / "adapter_config.json").is_file() and not (path / "config.json").is_file() else None
    model_path = str(path)
    if adapter is not None:
        try:
            base = json.loads((path / "adapter_config.json").read_text(encoding="utf-8")).get("base_model_name_or_path")
        except ValueError:
            base = None
        if not base:
            raise EvalError(f"{path / 'adapter_config.json'} names no base_model_name_or_path; merge the adapter first")
        model_path = str(base)
    run_id = metrics.get("run_id")
    return RunDir(
        path=path,
        model_path=model_path,
        adapter_path=adapter,
        metrics=metrics,
        run_id=str(run_id) if run_id else None,
        seed=data_seed(metrics),
    )


def write_report(path: Path, payload: dict[str, Any]) -> None:
    """Write a JSON report next to the model (atomically, stable key order, every string redacted)."""
    from axolotl_packing_bench.core.fileio import atomic_write_text
    from axolotl_packing_bench.core.redaction import redact_all

    text = json.dumps(redact_all(payload), ensure_ascii=False, indent=1, sort_keys=True, default=str)
    atomic_write_text(path, text + "\n")


def scores_report(run: RunDir, settings: Any, scores: dict[str, Any]) -> dict[str, Any]:
    """What ``packbench_scores.json`` holds: the scores and how they were made."""
    from importlib import metadata

    try:
        version = metadata.version("lm_eval")
    except metadata.PackageNotFoundError:
        version = None
    return {
        "run_id": run.run_id,
        "scores": scores,
        "lm_eval": version,
        "model": run.model_path,
        "adapter": str(run.adapter_path) if run.adapter_path else None,
        "data_seed": run.seed,
        "tasks": dict(settings.tasks),
        "limit": settings.limit,
        "batch_size": settings.batch_size,
        "device": settings.device,
        "dtype": settings.dtype,
        "apply_chat_template": settings.apply_chat_template,
    }
