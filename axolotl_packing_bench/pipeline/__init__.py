"""Orchestration above the parts: the one driver loop, the post-training steps and the batch task.

It sits above `bench` (running and recording cells), `eval` and `probes`
(what runs after training) and `cluster` (the backends), so that none of
those imports another upward:

- `driver`: plans in, backends run them, results recorded, progress shown,
  follow-ups (eval, probes) run for every backend.
- `follow_up`: the matrix's `eval:` and `probes:` sections on a trained cell.
- `task`: one cell as one batch task (a Slurm array task): train, record,
  follow up, record.
"""
