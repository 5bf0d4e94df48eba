"""Where cells run: the backends behind `packbench run`'s one driver loop (`pipeline.driver`).

- `backend`: the small protocol (submit / poll / cancel / close), `Outcome`,
  `BackendOptions`, and the registry (`register_backend`, `--backend NAME`).
- `local`: processes on this machine, forked from a warm worker or fresh.
- `ray_backend`: one Ray task per cell; the driver records every result.
- `slurm`: one job array per resource shape; each task runs `pipeline.task`,
  which trains the cell, records it, and runs its eval and probes.
- `resources`: what each cell asks for (derived from its recipe, overridden
  by the matrix's `resources:` section).

See README.md beside this file.
"""
