"""The known-harmless library messages are dropped; anything else still shows."""

from __future__ import annotations

import logging
import subprocess
import sys
import warnings

from axolotl_packing_bench.core.quiet import PYTREE_PYTHONWARNINGS, quiet_known_noise


def test_torchao_kernel_and_pytree_enum_lines_are_dropped_others_kept(caplog):
    quiet_known_noise()
    quiet_known_noise()  # idempotent
    with caplog.at_level(logging.WARNING):
        logging.getLogger("torchao").warning("Failed to load /x/torchao/_C_mxfp8.cpython-310-x86_64-linux-gnu.so: nope")
        logging.getLogger("torchao").warning("Skipping import of cpp extensions: something real")
        logging.getLogger("torch.utils._pytree").warning(
            "%s is an Enum subclass and is now natively supported by torch.compile as an opaque value type.",
            "<enum 'K'>",
        )
        logging.getLogger("torch.utils._pytree").warning("another pytree message")
    assert [record.getMessage() for record in caplog.records] == [
        "Skipping import of cpp extensions: something real",
        "another pytree message",
    ]
    assert len(logging.getLogger("torchao").filters) == 1


def test_pytree_deprecation_warning_is_ignored():
    quiet_known_noise()
    with warnings.catch_warnings(record=True) as caught:
        warnings.filterwarnings(
            "ignore", message=r"`torch\.utils\._pytree\._register_pytree_node` is deprecated", category=FutureWarning
        )  # catch_warnings resets filters: what quiet_known_noise adds
        warnings.warn("`torch.utils._pytree._register_pytree_node` is deprecated. Please use ...", FutureWarning)
        warnings.warn("something else", FutureWarning)
    assert [str(w.message) for w in caught] == ["something else"]


def test_fresh_interpreters_get_the_pytree_filter_through_pythonwarnings():
    code = (
        "import warnings; warnings.warn('`torch.utils._pytree._register_pytree_node` is deprecated. x', FutureWarning);"
        "warnings.warn('kept', FutureWarning)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONWARNINGS": PYTREE_PYTHONWARNINGS, "PATH": "/usr/bin:/bin"},
        check=True,
    )
    assert "_register_pytree_node" not in done.stderr and "kept" in done.stderr


def test_the_cli_installs_the_filters():
    import axolotl_packing_bench.cli  # noqa: F401

    assert logging.getLogger("torchao").filters
