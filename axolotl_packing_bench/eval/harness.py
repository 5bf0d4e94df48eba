"""Run lm-eval tasks on a trained model and turn its output into `scores`.

One ``hf`` model (``pretrained=<run dir>,dtype=float32``) is loaded once and
each task is evaluated by its own `lm_eval.simple_evaluate` call, so a task
whose dataset cannot be fetched costs that task only: its entry becomes
``{"error": "<one sentence>"}`` and the other tasks still get scores.

Task lookup uses a `TaskManager` with our shipped tasks folder (plus any user
``include_path``); lm-eval's own ~14k task YAMLs are indexed only when a task
outside those folders is asked for (indexing them takes tens of seconds).

Entry of one task (a group such as ``mmlu`` gets one entry, its aggregate)::

    {"metric": "acc", "value": 0.26, "stderr": 0.045, "n": 96, "shots": 0}

plus ``"filter"`` when lm-eval scored a filtered answer (``exact_match``
after ``strict-match``...).
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axolotl_packing_bench.matrix.problems import did_you_mean
from axolotl_packing_bench.eval.errors import EvalError, sentence
from axolotl_packing_bench.eval.presets import OFFLINE_TASKS, tasks_dir
from axolotl_packing_bench.eval.rundir import RunDir

BOOTSTRAP_ITERS = 1000  # lm-eval's 100000 takes minutes for non-mean metrics on a small CPU
_HUB_SIGNS = (
    "huggingface.co",
    "hub",
    "offline",
    "couldn't reach",
    "connection",
    "localentrynotfound",
    "cannot find the requested files",
)


@dataclass(frozen=True)
class LmEvalSettings:
    """How to run lm-eval (see `packbench eval --help`).

    Attributes:
        tasks: Task name -> number of examples (None: the task's default).
        limit: Documents per task (an int, or a fraction < 1); None for all.
        batch_size: lm-eval batch size (an int or "auto").
        device: Torch device, e.g. "cpu" or "cuda:0".
        dtype: Weights dtype passed to the ``hf`` model.
        apply_chat_template: Render prompts with the tokenizer's chat template.
        allow_code_execution: Run tasks that execute model-written code (HumanEval).
        include_paths: Extra folders of task YAMLs.
        model_args: Extra ``key=value,...`` for the ``hf`` model.
    """

    tasks: Mapping[str, int | None]
    limit: int | float | None = None
    batch_size: int | str = 8
    device: str = "cpu"
    dtype: str = "float32"
    apply_chat_template: bool = False
    allow_code_execution: bool = False
    include_paths: tuple[Path, ...] = field(default_factory=tuple)
    model_args: str = ""


@contextlib.contextmanager
def quiet_logs(level: int = logging.ERROR) -> Iterator[None]:
    """Keep lm-eval's and transformers' INFO/WARNING chatter off the console."""
    loggers = [logging.getLogger(name) for name in ("lm-eval", "lm_eval", "transformers", "datasets", "httpx")]
    previous = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(level)
    try:
        yield
    finally:
        for logger, old in zip(loggers, previous, strict=True):
            logger.setLevel(old)


def model_args(run: RunDir, settings: LmEvalSettings) -> str:
    """The ``model_args`` string of the ``hf`` model for ``run``."""
    args = [f"pretrained={run.model_path}", f"dtype={settings.dtype}"]
    if run.adapter_path is not None:
        args.append(f"peft={run.adapter_path}")
    if settings.model_args:
        args.append(settings.model_args.strip(","))
    return ",".join(args)


def task_manager(settings: LmEvalSettings, seed: int, names: Sequence[str]) -> Any:
    """A `TaskManager` that knows ``names``; `EvalError` naming any unknown task."""
    from lm_eval.tasks import TaskManager

    include = [str(tasks_dir()), *(str(Path(p).expanduser()) for p in settings.include_paths)]
    metadata = {"packbench_seed": seed}
    with quiet_logs():
        manager = TaskManager(include_path=include, include_defaults=False, metadata=metadata)
        # lm-eval's own tasks only when needed: indexing them takes tens of seconds.
        if any(name not in manager.all_tasks and not name.startswith("packbench_") for name in names):
            manager = TaskManager(include_path=include, include_defaults=True, metadata=metadata)
    for name in names:
        if name not in manager.all_tasks:
            raise EvalError(
                f"unknown lm-eval task {name!r}{did_you_mean(name, manager.all_tasks)}; the offline tasks are "
                f"{', '.join(OFFLINE_TASKS)}, and `lm-eval ls tasks` lists lm-eval's own"
            )
    return manager


def load_model(run: RunDir, settings: LmEvalSettings) -> Any:
    """lm-eval's ``hf`` model for ``run``; `EvalError` when it cannot be loaded."""
    from lm_eval.api.registry import get_model

    try:
        with quiet_logs():
            return get_model("hf").create_from_arg_string(
                model_args(run, settings), {"batch_size": settings.batch_size, "device": settings.device}
            )
    except Exception as error:  # noqa: BLE001 - any load failure is one sentence for the user
        raise EvalError(f"cannot load the model in {run.path} for lm-eval: {error}") from None


def explain_failure(task: str, error: BaseException) -> str:
    """One sentence for a task that failed, naming the hub when it is the cause."""
    text = f"{type(error).__name__}: {error}"
    lowered = text.lower()
    offline = os.environ.get("HF_DATASETS_OFFLINE") == "1" or os.environ.get("HF_HUB_OFFLINE") == "1"
    if "doesn't exist on the hub" in lowered or "datasetnotfound" in lowered:
        return sentence(
            f"task {task}'s dataset is not on the Hugging Face Hub, or needs a login (`huggingface-cli login` for a "
            "gated dataset); check the task's dataset_path"
        )
    if isinstance(error, (ConnectionError, TimeoutError)) or any(sign in lowered for sign in _HUB_SIGNS):
        why = " (HF_DATASETS_OFFLINE/HF_HUB_OFFLINE is set)" if offline else ""
        return sentence(
            f"task {task} needs its dataset from the Hugging Face Hub, which cannot be reached{why}; run where the "
            "Hub is reachable (or with the dataset in the HF cache), or use --preset offline"
        )
    if "unsafe" in lowered and "confirm_run_unsafe_code" in lowered:
        return sentence(f"task {task} runs model-written code; pass --allow-code-execution to allow it")
    return sentence(f"task {task} failed: {text}")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def _metric_keys(task_results: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(metric, filter) pairs with a numeric value, in lm-eval's order."""
    pairs = []
    for key, value in task_results.items():
        metric, sep, filt = key.partition(",")
        if sep and not metric.endswith("_stderr") and _number(value) is not None:
            pairs.append((metric, filt))
    return pairs


def _preferred(task: str, results: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The first metric and filter of ``task``'s config, or of its first leaf subtask."""
    configs = results.get("configs") or {}
    subtasks = results.get("group_subtasks") or {}
    name = task
    while name not in configs and subtasks.get(name):
        name = subtasks[name][0]
    config = configs.get(name) or {}
    metrics = config.get("metric_list") or []
    filters = config.get("filter_list") or []
    metric = metrics[0].get("metric") if metrics and isinstance(metrics[0], Mapping) else None
    filt = filters[0].get("name") if filters and isinstance(filters[0], Mapping) else None
    return (metric if isinstance(metric, str) else None), filt


def _leaves(task: str, subtasks: Mapping[str, Sequence[str]]) -> list[str]:
    children = subtasks.get(task) or []
    if not children:
        return [task]
    return [leaf for child in children for leaf in _leaves(child, subtasks)]


def score_entry(task: str, results: Mapping[str, Any], shots: int | None = None) -> dict[str, Any]:
    """The `scores` entry of ``task`` (a task or group) from lm-eval's results dict.

    Pure. The metric is the first of the task's ``metric_list`` (a group: of
    its first task), scored after its first filter when it has one. ``shots``
    is reported only when lm-eval's ``n-shot`` does not say (it wins: a task
    whose YAML fixes 0 examples stays 0-shot whatever was asked).
    """
    task_results = (results.get("results") or {}).get(task)
    if not isinstance(task_results, Mapping):
        return {"error": sentence(f"lm-eval returned no result for task {task}")}
    pairs = _metric_keys(task_results)
    if not pairs:
        return {"error": sentence(f"lm-eval returned no numeric metric for task {task}")}
    metric, filt = _preferred(task, results)
    chosen = next((p for p in pairs if p == (metric, filt or "none")), None) or next(
        (p for p in pairs if p[0] == metric), pairs[0]
    )
    name, chosen_filter = chosen
    stderr = _number(task_results.get(f"{name}_stderr,{chosen_filter}"))
    leaves = _leaves(task, results.get("group_subtasks") or {})
    samples = results.get("n-samples") or {}
    n = 0
    for leaf in leaves:
        counts = samples.get(leaf) or {}
        effective, original = counts.get("effective") or 0, counts.get("original") or 0
        if 0 < effective < 1:  # a fractional limit: lm-eval reports the fraction itself
            effective = math.ceil(original * effective)
        n += int(effective)
    shot_counts = results.get("n-shot") or {}
    known = [shot_counts[leaf] for leaf in leaves if isinstance(shot_counts.get(leaf), int)]
    shots = known[0] if known else (shots or 0)  # what lm-eval used; the request only when it says nothing
    entry: dict[str, Any] = {
        "metric": name,
        "value": _number(task_results[f"{name},{chosen_filter}"]),
        "stderr": stderr,
        "n": n,
        "shots": int(shots),
    }
    if chosen_filter and chosen_filter != "none":
        entry["filter"] = chosen_filter
    return entry


def top_level_tasks(results: Mapping[str, Any]) -> list[str]:
    """Names in lm-eval's results that are not a subtask of another (a tag's leaves)."""
    subtasks = results.get("group_subtasks") or {}
    children = {child for names in subtasks.values() for child in names}
    return [name for name in (results.get("results") or {}) if name not in children]


def run_lm_eval(run: RunDir, settings: LmEvalSettings) -> dict[str, dict[str, Any]]:
    """Evaluate ``run``'s model on every task of ``settings``; returns `scores`.

    Raises:
        EvalError: An unknown task, or a model that cannot be loaded. A task
            that fails while running becomes an ``{"error": ...}`` entry.
    """
    import lm_eval

    from axolotl_packing_bench.compat.lm_eval_api import quiet_git_hash

    quiet_git_hash()
    names = list(settings.tasks)
    if not names:
        return {}
    manager = task_manager(settings, run.seed, names)
    if settings.allow_code_execution:
        os.environ["HF_ALLOW_CODE_EVAL"] = "1"  # the `code_eval` metric refuses to run without it
    lm = load_model(run, settings)
    scores: dict[str, dict[str, Any]] = {}
    for name in names:
        shots = settings.tasks[name]
        try:
            with quiet_logs(), contextlib.redirect_stdout(io.StringIO()):
                results = lm_eval.simple_evaluate(
                    model=lm,
                    tasks=[name],
                    num_fewshot=shots,
                    limit=settings.limit,
                    task_manager=manager,
                    log_samples=False,
                    bootstrap_iters=BOOTSTRAP_ITERS,
                    apply_chat_template=settings.apply_chat_template,
                    fewshot_as_multiturn=settings.apply_chat_template,
                    confirm_run_unsafe_code=settings.allow_code_execution,
                )
        except Exception as error:  # noqa: BLE001 - one task's failure is that task's entry
            scores[name] = {"error": explain_failure(name, error)}
            continue
        if results is None:  # not rank 0 of a distributed run
            continue
        for task in top_level_tasks(results) if name not in (results.get("results") or {}) else [name]:
            scores[task] = score_entry(task, results, shots)
    del lm
    release_memory()
    return scores


def release_memory() -> None:
    """Give the model's memory back (a matrix runner evaluates cell after cell in one process)."""
    import gc
    import sys

    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
