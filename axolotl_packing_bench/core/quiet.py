"""Silence three known-harmless messages of the libraries packbench imports, in its own processes.

- torchao logs `Failed to load .../_C_mxfp8...so: ...` when its optional CUDA
  kernels do not load (every CPU machine): a filter on the `torchao` logger
  drops those lines only;
- torch logs `<enum 'KernelPreference'> is an Enum subclass ... Calling
  register_constant() on Enum subclasses is deprecated` (twice, for torchao's
  enums) and warns (FutureWarning) that `_pytree._register_pytree_node` is
  deprecated when an older library registers a node: a filter on the
  `torch.utils._pytree` logger and a warnings filter drop exactly those;
- lm-eval's `simple_evaluate` runs `git describe` for its results' git hash,
  and git prints `fatal: not a git repository` from any other folder: the
  lookup runs with git's stderr discarded (`compat.lm_eval_api`).

`quiet_known_noise` is called first thing by the CLI and the warm worker; the
filters are stdlib only, so calling it costs nothing. Anything else a library
logs or warns still shows.
"""

from __future__ import annotations

import logging
import warnings

PYTREE_MESSAGE = r"`torch\.utils\._pytree\._register_pytree_node` is deprecated"
PYTREE_PYTHONWARNINGS = "ignore:`torch.utils._pytree._register_pytree_node` is deprecated:FutureWarning"
"""The same filter for `PYTHONWARNINGS`, for interpreters packbench starts (a literal message prefix)."""


class _TorchaoKernelFilter(logging.Filter):
    """Drops torchao's `Failed to load ..._C_*.so` warnings (its optional compiled kernels)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("Failed to load ") and "/_C" in message and ".so" in message)


class _EnumConstantFilter(logging.Filter):
    """Drops torch's notice that registering an Enum as a pytree constant is deprecated."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "is an Enum subclass and is now natively supported" not in record.getMessage()


_FILTERS = {"torchao": _TorchaoKernelFilter(), "torch.utils._pytree": _EnumConstantFilter()}


def quiet_known_noise() -> None:
    """Install the filters in this process (idempotent)."""
    warnings.filterwarnings("ignore", message=PYTREE_MESSAGE, category=FutureWarning)
    for name, drop in _FILTERS.items():
        logger = logging.getLogger(name)
        if drop not in logger.filters:
            logger.addFilter(drop)
