"""Running a matrix: cells trained, recorded, followed up, on one machine or a cluster.

- `runner`: plan cells, run one cell's process, record its result.
- `warm`: the warm worker that trains cells without a fresh interpreter each.
- `trainlog`: a training log's error line or final figures; `load`: the machine's load.
- `driver`: the one loop every backend runs under (records, progress, follow-ups).
- `follow_up`, `task`: what runs after a cell trains (eval, probes), and one cell as a task.
- `backends/`: local, Ray and Slurm behind one protocol (see its README).
"""
