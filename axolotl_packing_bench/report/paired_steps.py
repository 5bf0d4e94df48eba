"""The gate's timing rule: per-step times paired by step index, with a bootstrap over blocks of steps.

Step i of every run of one cell trains the same batch (padding's rows are the
samples in the seeded order; packed rows are fixed by the seed), so the time
of step i in the candidate is compared with the time of step i in the
baseline, which removes the batch-to-batch variation a whole-run median
carries. After the warm-up (the runs' own `training.warmup_steps`):

    b_i = median over baseline repeats of step i,  c_i = the same for the candidate
    slowdown = exp(median_i log(c_i / b_i)) - 1

Its interval comes from a bootstrap over the steps in blocks of `BLOCK`
consecutive steps (a busy machine slows runs of neighbouring steps together),
and over the repeats of each side too once both have `RESAMPLED_REPEATS`.
With fewer, resampling repeats is degenerate: the median of three repeats
drawn with replacement from three is one given run 26% of the time, so a
single disturbed run (measured: one baseline repeat 35% slower than its
neighbours on an idle machine) would decide the lower bound and hide a real
slowdown. The per-step median across the repeats already sets such a run
aside. The interval shrinks as steps grow, and the estimate steadies as
repeats grow, unlike the min/max rule, which only widens.

The cell regresses when the slowdown is real (the bootstrap's one-sided 95%
lower bound is above zero) and its estimate exceeds the limit. The bootstrap
is seeded, so one pair of files always gives the same verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MIN_REPEATS = 3
"""Repeats per side below which the run-to-run spread is reported as unknown."""
RESAMPLED_REPEATS = 5
"""Repeats per side from which the bootstrap resamples the repeats as well as the steps."""
MIN_STEPS = 8
BLOCK = 5
ROUNDS = 2000
LOWER_QUANTILE = 0.05
SEED = 0


@dataclass(frozen=True)
class StepTest:
    """The paired per-step slowdown of one cell and its bootstrap interval (90% two-sided, 95% one-sided)."""

    slowdown: float
    low: float
    high: float
    steps: int
    repeats: tuple[int, int]

    @property
    def repeats_resampled(self) -> bool:
        return min(self.repeats) >= RESAMPLED_REPEATS

    @property
    def significant(self) -> bool:
        return self.low > 0

    def regressed(self, limit: float) -> bool:
        return self.significant and self.slowdown > limit

    def to_dict(self) -> dict[str, object]:
        return {
            "slowdown": round(self.slowdown, 5),
            "low": round(self.low, 5),
            "high": round(self.high, 5),
            "steps": self.steps,
            "repeats": list(self.repeats),
            "repeats_resampled": self.repeats_resampled,
        }


def paired_step_test(
    baseline: Sequence[Sequence[float]],
    candidate: Sequence[Sequence[float]],
    *,
    warmup: int,
    rounds: int = ROUNDS,
    block: int = BLOCK,
    seed: int = SEED,
) -> StepTest | None:
    """The paired slowdown of `candidate` over `baseline` (lists of per-step times, one per repeat).

    None when the runs cannot be paired: no repeats on a side, step counts that
    differ between runs, or fewer than `MIN_STEPS` steps after the warm-up.
    """
    import numpy as np

    if not baseline or not candidate:
        return None
    lengths = {len(run) for run in (*baseline, *candidate)}
    if len(lengths) != 1:
        return None
    steps = lengths.pop() - warmup
    if steps < MIN_STEPS:
        return None
    base = np.log(np.asarray(baseline, dtype=float)[:, warmup:])
    cand = np.log(np.asarray(candidate, dtype=float)[:, warmup:])
    estimate = float(np.median(np.median(cand, axis=0) - np.median(base, axis=0)))

    rng = np.random.default_rng(seed)

    def rows(values: np.ndarray) -> np.ndarray:
        if min(len(baseline), len(candidate)) < RESAMPLED_REPEATS:
            return np.broadcast_to(values, (rounds, *values.shape))
        return values[rng.integers(0, len(values), size=(rounds, len(values)))]

    per_step = np.median(rows(cand), axis=1) - np.median(rows(base), axis=1)  # rounds x steps
    block = max(1, min(block, steps))
    starts = rng.integers(0, steps - block + 1, size=(rounds, -(-steps // block)))
    index = (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(rounds, -1)[:, :steps]
    medians = np.median(np.take_along_axis(per_step, index, axis=1), axis=1)
    low, high = np.quantile(medians, [LOWER_QUANTILE, 1 - LOWER_QUANTILE])
    return StepTest(
        float(np.expm1(estimate)), float(np.expm1(low)), float(np.expm1(high)), steps, (len(baseline), len(candidate))
    )
