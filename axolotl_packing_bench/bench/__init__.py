"""The bench runner and the leaderboard (parts 3 and 4 of DESIGN.md).

- `matrix`: matrix YAML -> cells (pure); `problems`, `yamlio`: its errors and YAML.
- `recipe`: one Axolotl recipe per cell (pure, plus writing files).
- `schema`: recipes checked against Axolotl's own config schema, offline.
- `runner`: plan cells / run one cell / record its result; the local driver.
- `trainlog`: the error line or final figures of a training log.
- `results`: `RunResult` and the append-only `results.jsonl`.
- `record`: a run trained by hand -> a result.
- `leaderboard`: results -> LEADERBOARD.md (pure).
- `compare`: regression check of two results files (pure).
- `environment`: hardware and versions; `fileio`: atomic writes, locked appends.

Nothing here imports torch or Axolotl at import time.
"""
