"""The ``eval:`` section of a matrix: check it, and run it after a cell trains.

::

    eval:
      preset: offline          # offline (default) | paper
      tasks: [packbench_facts_0shot, packbench_facts_fewshot]  # default: the preset's; [] = no lm-eval
      limit: 50                # documents per task (int, or a fraction < 1); omit for all
      batch_size: 8            # or "auto"
      device: cpu              # cuda:0 on a GPU
      dtype: float32           # bfloat16 on a GPU
      num_fewshot: {packbench_facts_fewshot: 5}
      apply_chat_template: false
      allow_code_execution: false   # true to run HumanEval (paper preset)
      include_path: my_tasks/       # extra lm-eval task YAMLs (str or list)
      judge:                        # optional: the GPT judge
        base_url: https://api.openai.com/v1
        model: gpt-4o-mini
        api_key_env: OPENAI_API_KEY # the variable's NAME; the key is never written;
                                    # must be set (checked before training)
        no_api_key: false           # true: the judge needs no key
                                    # (default without it: a key unless base_url is local)
        mode: absolute              # absolute | pairwise (vs the group's padding run)
        prompts: offline            # offline, offline:N, or a JSONL with a `prompt` field
        max_new_tokens: 256         # answer length
        judge_max_tokens: 1024
        concurrency: 4
        max_retries: 4
        cache: judge-cache.jsonl    # default: $PACKBENCH_HOME/judge-cache.jsonl
        price_per_1k_input: 0.00015
        price_per_1k_output: 0.0006

Relative paths are resolved against ``base_dir`` (the matrix's folder).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from axolotl_packing_bench.core.text import did_you_mean
from axolotl_packing_bench.eval.errors import EvalError, sentence
from axolotl_packing_bench.eval.presets import PRESETS, parse_num_fewshot, plan_tasks
from axolotl_packing_bench.eval.rundir import scores_report

EVAL_KEYS = (
    "preset",
    "tasks",
    "limit",
    "batch_size",
    "device",
    "dtype",
    "num_fewshot",
    "apply_chat_template",
    "allow_code_execution",
    "include_path",
    "model_args",
    "judge",
)
JUDGE_KEYS = (
    "base_url",
    "model",
    "api_key_env",
    "no_api_key",
    "mode",
    "prompts",
    "max_new_tokens",
    "judge_max_tokens",
    "concurrency",
    "max_retries",
    "backoff_s",
    "timeout_s",
    "cache",
    "price_per_1k_input",
    "price_per_1k_output",
    "batch_size",
)
_INTS = {"batch_size", "max_new_tokens", "judge_max_tokens", "concurrency", "max_retries"}
_NUMBERS = {"backoff_s", "timeout_s", "price_per_1k_input", "price_per_1k_output"}
_BOOLS = {"apply_chat_template", "allow_code_execution", "no_api_key"}
_STRINGS = {"preset", "device", "dtype", "model_args", "base_url", "model", "api_key_env", "mode", "prompts", "cache"}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_keys(section: Mapping[str, Any], known: tuple[str, ...], where: str) -> list[str]:
    problems = []
    for key, value in section.items():
        path = f"{where}.{key}"
        if key not in known:
            problems.append(f"{path}: unknown key{did_you_mean(key, known)}; valid: {', '.join(known)}")
        elif (
            key in _INTS
            and not (_is_int(value) and value >= (0 if key == "max_retries" else 1))
            and not (key == "batch_size" and value == "auto")
        ):
            problems.append(f"{path}: {value!r} is not a positive whole number")
        elif key in _NUMBERS and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            problems.append(f"{path}: {value!r} is not a number of 0 or more")
        elif key in _BOOLS and not isinstance(value, bool):
            problems.append(f"{path}: {value!r} is not true or false")
        elif key in _STRINGS and not isinstance(value, str):
            problems.append(f"{path}: {value!r} is not a string")
    return problems


def check_eval_section(section: Any) -> list[str]:
    """Problems of a matrix's ``eval:`` section, one sentence each (pure, no imports)."""
    if section is None:
        return []
    if not isinstance(section, Mapping):
        return ["eval: must be a mapping (see axolotl_packing_bench/eval/section.py)"]
    problems = _check_keys(section, EVAL_KEYS, "eval")
    if "preset" in section and section["preset"] not in PRESETS:
        problems.append(f"eval.preset: {section['preset']!r} is not one of {', '.join(PRESETS)}")
    tasks = section.get("tasks")
    if tasks is not None and not (isinstance(tasks, list) and all(isinstance(t, str) for t in tasks)):
        problems.append("eval.tasks: must be a list of lm-eval task names")
    limit = section.get("limit")
    if limit is not None and (
        isinstance(limit, bool)
        or not isinstance(limit, (int, float))
        or limit <= 0
        or (isinstance(limit, float) and limit >= 1)
    ):
        problems.append(f"eval.limit: {limit!r} is not a positive whole number or a fraction below 1")
    include = section.get("include_path")
    if include is not None and not (
        isinstance(include, str) or (isinstance(include, list) and all(isinstance(p, str) for p in include))
    ):
        problems.append("eval.include_path: must be a folder path or a list of them")
    shots = section.get("num_fewshot")
    if shots is not None:
        if not isinstance(shots, Mapping):
            problems.append("eval.num_fewshot: must map task names to numbers of examples")
        else:
            try:
                plan_tasks(
                    section.get("preset") if section.get("preset") in PRESETS else None,
                    tasks if isinstance(tasks, list) else None,
                    parse_num_fewshot(shots),
                )
            except EvalError as error:
                problems.append(f"eval.num_fewshot: {error}")
    judge = section.get("judge")
    if judge is not None:
        if not isinstance(judge, Mapping):
            problems.append("eval.judge: must be a mapping with at least base_url and model")
        else:
            problems += _check_keys(judge, JUDGE_KEYS, "eval.judge")
            problems += [f"eval.judge.{key}: missing; add it" for key in ("base_url", "model") if not judge.get(key)]
            if judge.get("mode", "absolute") not in ("absolute", "pairwise"):
                problems.append(f"eval.judge.mode: {judge.get('mode')!r} is not absolute or pairwise")
    return problems


def _path(value: Any, base_dir: Path | None) -> Path:
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() or base_dir is None else base_dir / path


def lm_eval_settings(section: Mapping[str, Any], base_dir: Path | None = None) -> Any:
    """`LmEvalSettings` from an ``eval:`` section (already checked)."""
    from axolotl_packing_bench.eval.harness import LmEvalSettings

    tasks = section.get("tasks")
    plan = plan_tasks(section.get("preset"), tasks, parse_num_fewshot(section.get("num_fewshot") or {}))
    include = section.get("include_path") or []
    return LmEvalSettings(
        tasks=plan,
        limit=section.get("limit"),
        batch_size=section.get("batch_size", 8),
        device=str(section.get("device", "cpu")),
        dtype=str(section.get("dtype", "float32")),
        apply_chat_template=bool(section.get("apply_chat_template", False)),
        allow_code_execution=bool(section.get("allow_code_execution", False)),
        include_paths=tuple(_path(p, base_dir) for p in ([include] if isinstance(include, str) else include)),
        model_args=str(section.get("model_args", "")),
    )


def judge_key_problem(section: Mapping[str, Any] | None) -> str | None:
    """Why a matrix's ``eval.judge`` cannot start for want of its API key (one sentence), or None.

    `run` checks it first.
    """
    from axolotl_packing_bench.eval.judge import DEFAULT_API_KEY_ENV, api_key_problem

    judge = (section or {}).get("judge") if isinstance(section, Mapping) else None
    if not isinstance(judge, Mapping) or not judge.get("base_url"):
        return None
    problem = api_key_problem(
        str(judge["base_url"]),
        str(judge.get("api_key_env") or DEFAULT_API_KEY_ENV),
        named="api_key_env" in judge,
        no_api_key=judge.get("no_api_key") is True,
    )
    return (
        None
        if problem is None
        else "eval.judge: "
        + problem.replace("--no-api-key (in a matrix, set eval.judge.no_api_key to true)", "set no_api_key to true")
    )


def judge_settings(
    section: Mapping[str, Any], base_dir: Path | None = None, *, device: str = "cpu", dtype: str = "float32"
) -> Any:
    """`JudgeSettings` from an ``eval.judge`` section (already checked)."""
    from axolotl_packing_bench.assets import packbench_home
    from axolotl_packing_bench.eval.judge import JudgeSettings

    options = {key: section[key] for key in JUDGE_KEYS if key in section and key not in ("base_url", "model")}
    options["cache"] = (
        _path(section["cache"], base_dir) if section.get("cache") else packbench_home() / "judge-cache.jsonl"
    )
    prompts = str(section.get("prompts", "offline"))
    if not prompts.startswith("offline"):
        options["prompts"] = str(_path(prompts, base_dir))
    return JudgeSettings(
        base_url=str(section["base_url"]),
        model=str(section["model"]),
        device=device,
        dtype=dtype,
        api_key_required="api_key_env" in section,
        **options,
    )


def run_eval_section(
    run_dir: Path,
    eval_spec: Mapping[str, Any] | None,
    *,
    baseline_run_dir: Path | None = None,
    base_dir: Path | None = None,
) -> dict[str, Any]:
    """Evaluate one trained cell as its matrix's ``eval:`` section says. Never raises.

    Args:
        run_dir: The cell's output_dir (or its ``runs/<matrix>/<cell>/`` folder).
        eval_spec: The matrix's ``eval:`` section (None or {}: nothing to do).
        baseline_run_dir: The padding run of the same group, for pairwise judging.
        base_dir: Folder that relative paths in the section are relative to.

    Returns:
        ``{"scores": {...}, "judge": {...}, "error": str | None}``. A failed
        part comes back as ``{"error": "<one sentence>"}`` in its section
        (a failed task as that task's entry), and ``error`` repeats the first
        failure; attach with `store.attach_evaluation`.
    """
    outcome: dict[str, Any] = {"scores": {}, "judge": {}, "error": None}
    if not eval_spec:
        return outcome
    problems = check_eval_section(eval_spec)
    if problems:
        outcome["error"] = sentence(f"the eval section is invalid: {problems[0]}")
        outcome["scores"] = {"error": outcome["error"]}
        return outcome
    try:
        from axolotl_packing_bench.eval.rundir import open_run_dir

        run = open_run_dir(run_dir)
    except Exception as error:  # noqa: BLE001
        outcome["error"] = _describe(error)
        outcome["scores"] = {"error": outcome["error"]}
        return outcome

    tasks = eval_spec.get("tasks")
    if tasks is None or tasks:
        try:
            from axolotl_packing_bench.eval.harness import run_lm_eval
            from axolotl_packing_bench.eval.rundir import SCORES_FILE, write_report

            settings = lm_eval_settings(eval_spec, base_dir)
            outcome["scores"] = run_lm_eval(run, settings)
            write_report(run.path / SCORES_FILE, scores_report(run, settings, outcome["scores"]))
        except Exception as error:  # noqa: BLE001 - a failed evaluation never loses the training result
            outcome["scores"] = {"error": _describe(error)}
    failed = [entry["error"] for entry in outcome["scores"].values() if isinstance(entry, Mapping) and "error" in entry]
    if "error" in outcome["scores"] and isinstance(outcome["scores"]["error"], str):
        failed.insert(0, outcome["scores"]["error"])

    judge_spec = eval_spec.get("judge")
    if judge_spec:
        try:
            outcome["judge"] = _judge(run, eval_spec, judge_spec, baseline_run_dir, base_dir)
        except Exception as error:  # noqa: BLE001 - judge down, bad prompts...: recorded, never raised
            outcome["judge"] = {"error": _describe(error)}
            failed.append(outcome["judge"]["error"])
    outcome["error"] = failed[0] if failed else None
    return outcome


def _describe(error: BaseException) -> str:
    """One sentence for any failure: our own errors as they are, others with their type."""
    return str(error) if isinstance(error, EvalError) else sentence(f"{type(error).__name__}: {error}")


def _judge(
    run: Any,
    eval_spec: Mapping[str, Any],
    judge_spec: Mapping[str, Any],
    baseline_run_dir: Path | None,
    base_dir: Path | None,
) -> dict[str, Any]:
    """The judge section of one cell ({} for the pairwise baseline itself)."""
    from axolotl_packing_bench.eval.judge import judge_run
    from axolotl_packing_bench.eval.rundir import JUDGE_FILE, open_run_dir, write_report

    settings = judge_settings(
        judge_spec, base_dir, device=str(eval_spec.get("device", "cpu")), dtype=str(eval_spec.get("dtype", "float32"))
    )
    baseline = None
    if settings.mode == "pairwise":
        if baseline_run_dir is None:
            raise EvalError("pairwise judging needs the padding run of this cell's group (baseline_run_dir)")
        baseline = open_run_dir(baseline_run_dir)
        if baseline.path.resolve() == run.path.resolve():
            return {}  # the baseline is not compared with itself
    client = settings.client()
    result = judge_run(run, settings, client, baseline=baseline)
    write_report(run.path / JUDGE_FILE, result.report(client.stats.as_dict()))
    return result.judge
