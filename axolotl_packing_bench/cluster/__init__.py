"""Run a matrix beyond one machine, on an existing engine: Ray or Slurm.

- `resources`: what each cell asks for (derived from its recipe, overridden
  by the matrix's `resources:` section).
- `ray_backend`: one Ray task per cell; the driver records every result.
- `slurm`: one job array per resource shape; each task runs `cluster.task`,
  which trains the cell and appends its result to the shared results file.

See README.md beside this file.
"""
