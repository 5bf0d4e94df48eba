"""The strategy registry: name -> function, and what a strategy returns.

A strategy is a plain function::

    @register_strategy("my_fit")
    def my_fit(lengths, capacity, *, seed, sample_index, my_option=1) -> Assignment:
        ...

- `lengths`: int64 item lengths, after the overflow policy. Each is in
  `[1, capacity]`, unless the strategy is registered with
  `splits_samples=True` (then overlong samples arrive whole under
  `overflow="split"` and the strategy cuts them itself).
- `capacity`: tokens per bin.
- `seed` and `sample_index` (int64, the input sample each item came from) are
  passed only if the function names them. Per-sample options such as a
  `groups=` array are indexed with `groups[sample_index]`.
- Any other keyword is an option of `pack(..., **options)`; `pack` rejects
  options the function does not name.

It returns an `Assignment`: bins as CSR over item indices.

Strategies from other installed packages: declare an entry point in the
`packbench.strategies` group, named as the strategy, pointing at its
function (or at a module that calls `register_strategy` itself)::

    [project.entry-points."packbench.strategies"]
    my_fit = "my_package.packing:my_fit"

They are imported the first time a name is not found or the full list is
asked for (`strategy_names`), so `pack`, the plugin's config check,
`packbench stats` and `packbench validate` all see them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from axolotl_packing_bench.constants import NATIVE

ENTRY_POINT_GROUP = "packbench.strategies"
"""The entry-point group other packages register strategies in."""

StrategyFn = Callable[..., "Assignment"]

STRATEGIES: dict[str, StrategyFn] = {}
"""Registered strategies, name -> function. Add yours with `register_strategy`."""

_PASSED_IF_NAMED = ("seed", "sample_index")


@dataclass(frozen=True, eq=False)
class Assignment:
    """Bins chosen by a strategy, as CSR over item indices.

    Attributes:
        bin_offsets: int64, length num_bins + 1; bin `b` holds segments
            `bin_offsets[b]:bin_offsets[b + 1]`.
        items: int64 item index per segment, in bin order.
        starts: token offset within the item where each segment starts, and
        stops: where it stops; both None when every segment is a whole item
            (strategies that never split), both arrays otherwise.
        dropped_tokens: tokens the strategy chose not to place (for example
            the short final remainder of `random`).
    """

    bin_offsets: np.ndarray
    items: np.ndarray
    starts: np.ndarray | None = None
    stops: np.ndarray | None = None
    dropped_tokens: int = 0


def register_strategy(
    name: str, *, splits_samples: bool = False, replace: bool = False
) -> Callable[[StrategyFn], StrategyFn]:
    """Register a packing strategy under `name`.

    Args:
        name: the name users pass as `pack(..., strategy=name)`.
        splits_samples: the strategy cuts samples across bins itself, so under
            `overflow="split"` it receives overlong samples whole.
        replace: allow replacing a strategy already registered under `name`.

    Returns:
        A decorator that registers the function and returns it unchanged.
    """

    def decorator(fn: StrategyFn) -> StrategyFn:
        if name in STRATEGIES and not replace:
            raise ValueError(
                f"packing strategy {name!r} is already registered; "
                "pass replace=True to register_strategy to override it."
            )
        fn.splits_samples = splits_samples  # type: ignore[attr-defined]
        STRATEGIES[name] = fn
        return fn

    return decorator


_ENTRY_POINTS_LOADED: list[bool] = []


def load_entry_point_strategies() -> None:
    """Register the strategies installed packages declare in `packbench.strategies` (once; a name taken wins).

    Raises:
        ValueError: An entry point cannot be imported or names no function; one sentence naming it.
    """
    if _ENTRY_POINTS_LOADED:
        return
    from importlib.metadata import entry_points

    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name in STRATEGIES:
            continue
        try:
            target = point.load()
        except Exception as error:  # noqa: BLE001 - any import failure of a user's package is one sentence
            raise ValueError(
                f"packing strategy {point.name!r} ({point.value}, entry point group {ENTRY_POINT_GROUP}) cannot be "
                f"imported: {type(error).__name__}: {error}; fix or uninstall the package that declares it."
            ) from None
        if point.name not in STRATEGIES:  # a module registers its strategies itself; a function is registered here
            if not callable(target):
                raise ValueError(
                    f"packing strategy {point.name!r} ({point.value}, entry point group {ENTRY_POINT_GROUP}) is not a "
                    "function; point the entry point at the strategy function."
                )
            register_strategy(point.name)(target)
    _ENTRY_POINTS_LOADED.append(True)


def strategy_names() -> list[str]:
    """Every registered strategy, those of installed packages included, by name."""
    load_entry_point_strategies()
    return sorted(STRATEGIES)


def known_strategies() -> list[str]:
    """What `packbench_strategy` and a matrix's strategy axis accept: every strategy and `native`.

    `native` hands packing to Axolotl's own `sample_packing`, so it is no
    function here; every other name is one this registry packs with.
    """
    return sorted({*strategy_names(), NATIVE})


def get_strategy(name: str) -> StrategyFn:
    """The strategy registered as `name` (or by an installed package); ValueError naming every valid one."""
    if isinstance(name, str) and name not in STRATEGIES:
        load_entry_point_strategies()
    try:
        return STRATEGIES[name]
    except (KeyError, TypeError):
        valid = ", ".join(strategy_names())
        raise ValueError(f"unknown packing strategy {name!r}; choose one of: {valid}.") from None


def strategy_kwargs(name: str, fn: StrategyFn, options: dict, *, seed: int, sample_index: np.ndarray) -> dict:
    """Keyword arguments for `fn`: its options, plus seed/sample_index if named.

    Raises:
        TypeError: an option the strategy does not accept.
    """
    params = inspect.signature(fn).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    named = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    accepted = [
        p
        for p, spec in list(params.items())[2:]  # after lengths, capacity
        if spec.kind in named and p not in _PASSED_IF_NAMED
    ]
    unknown = sorted(key for key in options if key in _PASSED_IF_NAMED or (not takes_any and key not in accepted))
    if unknown:
        takes = ", ".join(accepted) if accepted else "no options"
        raise TypeError(f"packing strategy {name!r} got unknown option(s) {', '.join(unknown)}; it takes: {takes}.")
    kwargs = dict(options)
    if takes_any or "seed" in params:
        kwargs["seed"] = seed
    if takes_any or "sample_index" in params:
        kwargs["sample_index"] = sample_index
    return kwargs
