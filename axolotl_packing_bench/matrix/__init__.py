"""The matrix: a matrix YAML expanded into cells, and one Axolotl recipe per cell (pure).

- `spec`: matrix YAML -> `Matrix` and its `Cell`s (parse, expand, pair, exclude).
- `recipe`: one Axolotl recipe per cell, and the cell's run folder.
- `schema`: recipes checked against Axolotl's own config schema, offline.
- `datacheck`: the datasets a matrix names exist and hold samples.
- `labels`: display labels of models and datasets.
- `problems`, `yamlio`: the matrix's one-sentence errors and its YAML reading.

Nothing here imports torch or Axolotl at import time.
"""
