"""Results: the append-only `results.jsonl` (the source of truth) and what goes into it.

- `store`: `RunResult`, reading, appending and the latest result per cell or run.
- `record`: a run trained by hand (a run folder) -> a result.
"""
