"""`PackPlan`, the result of `pack`, and `check_plan`, its invariants."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from axolotl_packing_bench.packing.overflow import as_lengths


@dataclass(frozen=True, eq=False)
class PackPlan:
    """Which tokens of which samples go in which bin (packed row).

    Segments are stored CSR-style: bin `b` holds segments
    `bin_offsets[b]:bin_offsets[b + 1]`, and segment `i` is the tokens
    `start[i]:stop[i]` of sample `sample_index[i]`. Within a bin, segments are
    in the order the strategy placed them. Arrays are read-only int64.

    Attributes:
        bin_offsets: int64, length num_bins + 1.
        sample_index: int64 input sample of each segment.
        start: int64 first token of each segment within its sample.
        stop: int64 one past the last token of each segment within its sample.
        capacity: tokens per bin.
        strategy: name of the strategy that made the plan.
        overflow: the overflow policy applied.
        seed: the seed passed to `pack`.
        num_samples: samples in the input, including dropped ones.
        input_tokens: tokens in the input.
        total_tokens: tokens placed in bins.
        num_truncated: overlong samples cut to capacity.
        num_split: samples placed as more than one segment.
        num_dropped_empty: zero-length samples dropped.
        num_dropped_overlong: overlong samples dropped.
        num_remainder_tokens: tokens the strategy left out (the short final
            remainder of `random` without `keep_remainder`).
    """

    bin_offsets: np.ndarray
    sample_index: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    capacity: int
    strategy: str
    overflow: str
    seed: int
    num_samples: int
    input_tokens: int
    total_tokens: int
    num_truncated: int
    num_split: int
    num_dropped_empty: int
    num_dropped_overlong: int
    num_remainder_tokens: int

    @property
    def num_bins(self) -> int:
        """Number of bins (packed rows)."""
        return self.bin_offsets.shape[0] - 1

    @property
    def num_segments(self) -> int:
        """Number of segments over all bins."""
        return self.sample_index.shape[0]

    @property
    def lower_bound(self) -> int:
        """ceil(total_tokens / capacity): no packer can use fewer bins."""
        return -(-self.total_tokens // self.capacity)

    @property
    def efficiency(self) -> float:
        """Tokens placed / (num_bins * capacity); 1.0 for a plan with no bins,
        since no slot is wasted."""
        if self.num_bins == 0:
            return 1.0
        return self.total_tokens / (self.num_bins * self.capacity)

    @property
    def num_dropped_tokens(self) -> int:
        """Input tokens not placed in any bin, for any reason."""
        return self.input_tokens - self.total_tokens

    def bin_lengths(self) -> np.ndarray:
        """int64 tokens in each bin."""
        cumulative = np.zeros(self.num_segments + 1, dtype=np.int64)
        np.cumsum(self.stop - self.start, out=cumulative[1:])
        return cumulative[self.bin_offsets[1:]] - cumulative[self.bin_offsets[:-1]]

    def segments(self, bin: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`(sample_index, start, stop)` arrays of the segments in one bin."""
        if not 0 <= bin < self.num_bins:
            raise IndexError(f"bin {bin} out of range for a plan of {self.num_bins} bins")
        part = slice(self.bin_offsets[bin], self.bin_offsets[bin + 1])
        return self.sample_index[part], self.start[part], self.stop[part]

    def to_dict(self) -> dict[str, int | float | str]:
        """Summary figures for metrics and reports (no per-segment arrays)."""
        lower_bound = self.lower_bound
        return {
            "strategy": self.strategy,
            "capacity": self.capacity,
            "overflow": self.overflow,
            "seed": self.seed,
            "num_samples": self.num_samples,
            "num_bins": self.num_bins,
            "num_segments": self.num_segments,
            "lower_bound": lower_bound,
            "over_lower_bound": self.num_bins / lower_bound - 1.0 if lower_bound else 0.0,
            "efficiency": self.efficiency,
            "input_tokens": self.input_tokens,
            "total_tokens": self.total_tokens,
            "num_truncated": self.num_truncated,
            "num_split": self.num_split,
            "num_dropped_empty": self.num_dropped_empty,
            "num_dropped_overlong": self.num_dropped_overlong,
            "num_dropped_tokens": self.num_dropped_tokens,
            "num_remainder_tokens": self.num_remainder_tokens,
        }

    def validate(self, lengths: object) -> None:
        """Raise AssertionError if the plan breaks an invariant; see `check_plan`."""
        check_plan(self, lengths)


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(f"invalid PackPlan: {message}")


def check_plan(plan: PackPlan, lengths: object) -> None:
    """Check every invariant of `plan` against the sample `lengths` it packed.

    - bins are non-empty and none holds more than `capacity` tokens;
    - each sample's segments are contiguous and non-overlapping from token 0,
      and cover exactly what the overflow policy keeps: `min(len, capacity)`
      for truncate, nothing of an overlong sample for drop, all of it for
      split; only the strategy's stated remainder may be left out, and only
      from the end of samples;
    - the counts in the plan match the lengths.

    Raises:
        AssertionError: naming the first broken invariant (raised explicitly,
            so it also fires under `python -O`).
    """
    lengths = as_lengths(lengths)
    n, capacity = lengths.shape[0], plan.capacity
    offsets, sample, start, stop = plan.bin_offsets, plan.sample_index, plan.start, plan.stop
    num_segments = sample.shape[0]

    _expect(n == plan.num_samples, f"num_samples is {plan.num_samples}, lengths has {n}")
    _expect(
        start.shape == (num_segments,) and stop.shape == (num_segments,),
        "sample_index, start and stop differ in length",
    )
    _expect(
        offsets.ndim == 1 and offsets.shape[0] >= 1 and offsets[0] == 0 and offsets[-1] == num_segments,
        "bin_offsets is not CSR over the segments",
    )
    _expect(bool(np.all(np.diff(offsets) > 0)), "a bin holds no segment")
    if num_segments:
        _expect(sample.min() >= 0 and sample.max() < n, "sample_index out of range")
    seg_lengths = stop - start
    _expect(
        bool(np.all(start >= 0)) and bool(np.all(seg_lengths > 0)),
        "a segment is empty or starts before token 0",
    )
    bin_lengths = plan.bin_lengths()
    if bin_lengths.shape[0]:
        worst = int(np.argmax(bin_lengths))
        _expect(
            bin_lengths[worst] <= capacity,
            f"bin {worst} holds {bin_lengths[worst]} tokens > capacity {capacity}",
        )
    _expect(int(seg_lengths.sum()) == plan.total_tokens, "total_tokens is not the tokens placed")
    _expect(int(lengths.sum()) == plan.input_tokens, "input_tokens is not the sum of lengths")

    overlong = lengths > capacity
    num_overlong = int(np.count_nonzero(overlong))
    if plan.overflow == "truncate":
        expected = np.minimum(lengths, capacity)
    elif plan.overflow == "drop":
        expected = np.where(overlong, 0, lengths)
    else:
        expected = lengths
    _expect(
        plan.num_dropped_empty == int(np.count_nonzero(lengths == 0)),
        "num_dropped_empty does not match the zero-length samples",
    )
    _expect(
        plan.num_truncated == (num_overlong if plan.overflow == "truncate" else 0),
        "num_truncated does not match the overlong samples",
    )
    _expect(
        plan.num_dropped_overlong == (num_overlong if plan.overflow == "drop" else 0),
        "num_dropped_overlong does not match the overlong samples",
    )

    # Coverage: per sample, segments sorted by start must tile [0, covered).
    order = np.lexsort((start, sample))
    sample, start, stop = sample[order], start[order], stop[order]
    first = np.ones(num_segments, dtype=bool)
    first[1:] = sample[1:] != sample[:-1]
    _expect(bool(np.all(start[first] == 0)), "a sample's first segment does not start at 0")
    follows = np.flatnonzero(~first)
    _expect(
        bool(np.all(start[follows] == stop[follows - 1])),
        "a sample's segments overlap or leave a gap",
    )
    last = np.ones(num_segments, dtype=bool)
    last[:-1] = first[1:]
    covered = np.zeros(n, dtype=np.int64)
    covered[sample[last]] = stop[last]
    _expect(bool(np.all(covered <= expected)), "a sample has more tokens placed than it keeps")
    _expect(
        int((expected - covered).sum()) == plan.num_remainder_tokens,
        "tokens are missing beyond the strategy's stated remainder",
    )
    pieces = np.bincount(sample, minlength=n) if num_segments else np.zeros(n, np.int64)
    _expect(
        plan.num_split == int(np.count_nonzero(pieces > 1)),
        "num_split does not match the samples placed as several segments",
    )
