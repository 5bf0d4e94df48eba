"""Means and 95% intervals over seeds (or repeats), and paired differences from a baseline.

Pure Python, for the leaderboard: a cell trained with n seeds shows its mean
and the half-width of a Student-t 95% interval of that mean; a difference
from the padding row is taken seed by seed when both rows have the same seeds
(paired, which cancels what a seed does to both), else as Welch's difference
of two means. A difference is *significant* when its interval excludes zero.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Two-sided 95% Student-t quantiles by degrees of freedom; between rows the
# lower degrees of freedom is used (a slightly wider, conservative interval).
_T975 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    12: 2.179,
    15: 2.131,
    20: 2.086,
    25: 2.060,
    30: 2.042,
    40: 2.021,
    60: 2.000,
    120: 1.980,
}


def t975(dof: float) -> float:
    """The 97.5% quantile of Student's t with ``dof`` degrees of freedom (conservative between table rows)."""
    if dof < 1:
        return math.inf
    usable = [d for d in _T975 if d <= dof]
    return _T975[max(usable)] if dof < 120 else 1.960


@dataclass(frozen=True)
class Estimate:
    """A mean and the half-width of its 95% interval (None with fewer than two values)."""

    mean: float
    half_width: float | None
    n: int

    @property
    def significant(self) -> bool:
        """The interval excludes zero (False when there is no interval)."""
        return self.half_width is not None and abs(self.mean) > self.half_width

    def text(self, digits: int = 3) -> str:
        """`+0.123 ±0.045*`: signed mean, half-width when there is one, `*` when significant."""
        spread = "" if self.half_width is None else f" ±{self.half_width:.{digits}f}"
        return f"{self.mean:+.{digits}f}{spread}" + ("*" if self.significant else "")


def _variance(values: Sequence[float]) -> float:
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / (len(values) - 1)


def mean_interval(values: Sequence[float]) -> Estimate:
    """Mean of ``values`` with a Student-t 95% interval."""
    n = len(values)
    if n == 0:
        raise ValueError("mean_interval needs at least one value")
    mean = sum(values) / n
    if n < 2:
        return Estimate(mean, None, n)
    return Estimate(mean, t975(n - 1) * math.sqrt(_variance(values) / n), n)


def difference_interval(values: Mapping[str, float], baseline: Mapping[str, float]) -> Estimate:
    """``values`` minus ``baseline``, each keyed by seed: paired when the seeds match, else Welch."""
    if not values or not baseline:
        raise ValueError("difference_interval needs values on both sides")
    if set(values) == set(baseline):
        return mean_interval([values[key] - baseline[key] for key in sorted(values)])
    a, b = list(values.values()), list(baseline.values())
    mean = sum(a) / len(a) - sum(b) / len(b)
    if len(a) < 2 or len(b) < 2:
        return Estimate(mean, None, min(len(a), len(b)))
    va, vb = _variance(a) / len(a), _variance(b) / len(b)
    if va + vb == 0:
        return Estimate(mean, 0.0, min(len(a), len(b)))
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return Estimate(mean, t975(dof) * math.sqrt(va + vb), min(len(a), len(b)))
