"""Attach `scores` and `judge` to a run's result in ``results.jsonl``.

Through `bench.results`: the store is append-only and readers keep the
latest line of each ``run_id``, so attaching appends the run's result again
with the new sections; the training figures already recorded are kept as
they are. Finding the latest line and appending the updated copy is one
step under the store's lock (`core.fileio.append_line_from`, the lock
`append_result` takes), so concurrent attachments never lose each other.
Shapes (also documented in `axolotl_packing_bench.eval`)::

    scores = {"<task>": {"metric": "acc", "value": 0.62, "stderr": 0.01,
                         "n": 96, "shots": 0}}          # or {"error": "..."}
    judge  = {"mode": "absolute", "judge_model": "gpt-4o-mini", "mean_score": 6.1,
              "win": 0, "tie": 0, "loss": 0, "judged": 40, "invalid": 2,
              "prompt_tokens": 31000, "completion_tokens": 9000, "cost_usd": 0.01}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from axolotl_packing_bench.results.store import RunResult, latest_of_run, read_results


def merge_scores(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """Task entries of ``new`` replace those of ``old``; other tasks stay.

    A task that failed now (``{"error": ...}``) does not erase an earlier
    score of that task; a top-level ``error`` goes once any task scores.
    """
    merged = {key: value for key, value in old.items() if key != "error"}
    for task, entry in new.items():
        if task == "error":
            continue
        if (
            isinstance(entry, Mapping)
            and set(entry) == {"error"}
            and isinstance(merged.get(task), Mapping)
            and "value" in merged[task]
        ):
            continue
        merged[task] = dict(entry) if isinstance(entry, Mapping) else entry
    if "error" in new and not any(isinstance(e, Mapping) and "value" in e for e in merged.values()):
        merged["error"] = new["error"]
    return merged


def attach(
    result: RunResult,
    *,
    scores: Mapping[str, Any] | None = None,
    judge: Mapping[str, Any] | None = None,
) -> RunResult:
    """``result`` with ``scores`` merged in and ``judge`` replaced (pure).

    An empty or None section leaves the result's own as it is; a judge that
    failed (``{"error": ...}``) does not replace a judge that succeeded.
    """
    changes: dict[str, Any] = {}
    if scores:
        changes["scores"] = merge_scores(result.scores, scores)
    if judge:
        failed = set(judge) == {"error"}
        if not (failed and result.judge and "error" not in result.judge):
            changes["judge"] = dict(judge)
    return result.replace(**changes) if changes else result


def attach_evaluation(result: RunResult, outcome: Mapping[str, Any]) -> RunResult:
    """``result`` with the ``scores`` and ``judge`` of a `run_eval_section` outcome."""
    return attach(result, scores=outcome.get("scores"), judge=outcome.get("judge"))


def find_result(results_path: str | Path, run_id: str) -> RunResult | None:
    """The latest result of ``run_id`` in the store, or None."""
    path = Path(results_path)
    if not path.is_file():
        return None
    return next((r for r in read_results(path, warn=False) if r.run_id == run_id), None)


def record_evaluation(
    results_path: str | Path,
    run_id: str,
    *,
    scores: Mapping[str, Any] | None = None,
    judge: Mapping[str, Any] | None = None,
    fallback: RunResult | None = None,
    leaderboard_path: str | Path | None = None,
) -> RunResult | None:
    """Append ``run_id``'s result with ``scores``/``judge`` attached.

    Args:
        results_path: The ``results.jsonl`` store.
        run_id: Whose result to update.
        scores: Merged into the result's scores (per task).
        judge: Replaces the result's judge section.
        fallback: Result to start from when ``run_id`` is not in the store
            (e.g. a hand-run built from its metrics); None: nothing is written.
        leaderboard_path: Re-render this leaderboard afterwards, when given.

    Returns:
        The result written, or None when the run is not in the store and no
        fallback was given.
    """
    return update_result(
        results_path,
        run_id,
        lambda current: attach(current, scores=scores, judge=judge),
        fallback=fallback,
        leaderboard_path=leaderboard_path,
    )


def update_result(
    results_path: str | Path,
    run_id: str,
    change: Callable[[RunResult], RunResult],
    *,
    fallback: RunResult | None = None,
    leaderboard_path: str | Path | None = None,
) -> RunResult | None:
    """Append ``change(latest result of run_id)``, reading and appending under one lock.

    Args:
        results_path: The ``results.jsonl`` store (created when missing).
        run_id: Whose result to update.
        change: Pure function from the current result to the updated one.
        fallback: Result to start from when ``run_id`` is not in the store;
            None: nothing is written.
        leaderboard_path: Re-render this board from the same lines; the row and
            the board are both written, or neither (``report.publish``).

    Returns:
        The result written, or None.
    """
    if fallback is None and not Path(results_path).is_file():
        return None
    written: list[RunResult] = []

    def build(lines: list[str]) -> str | None:
        current = latest_of_run(lines, run_id) or fallback
        if current is None:
            return None
        written.append(change(current))
        return written[-1].to_json()

    from axolotl_packing_bench.report.publish import append_and_render

    append_and_render(results_path, leaderboard_path, build)
    return written[-1] if written else None


def result_for_run(run_dir: str | Path) -> RunResult | None:
    """A hand-run result built from RUN_DIR's metrics (as `packbench record` does), or None."""
    from axolotl_packing_bench.results.record import RecordError, result_from_run_dir

    try:
        return result_from_run_dir(run_dir)
    except RecordError:
        return None
