"""Dataset files and sample lengths, read the same way by the plugin, the matrix checks and `stats`.

- `files`: JSON/JSONL/Parquet dataset files and their rows.
- `lengths`: tokenized sample lengths from a dataset or a lengths file (.npy/.txt).
"""
