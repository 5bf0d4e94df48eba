"""One place per fact: the names several parts use agree with `constants` (issue 14, structure)."""

from __future__ import annotations

import subprocess
import sys

from axolotl_packing_bench import constants


def test_constants_and_core_import_nothing_heavy():
    code = ("import sys, axolotl_packing_bench.constants, axolotl_packing_bench.core.fileio, "
            "axolotl_packing_bench.core.environment, axolotl_packing_bench.core.redaction, "
            "axolotl_packing_bench.core.extras, axolotl_packing_bench.data.files, axolotl_packing_bench.core.last_word; "
            "print(sorted(m for m in ('torch', 'axolotl', 'openai', 'transformers', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_matrix_and_plugin_read_the_same_names():
    from axolotl_packing_bench.matrix import spec as matrix
    from axolotl_packing_bench.packing import STRATEGIES

    assert matrix.PLUGIN == constants.PLUGIN_PATH and matrix.NATIVE == constants.NATIVE
    assert matrix.ATTENTIONS == constants.ATTENTIONS and constants.DEFAULT_ATTENTION in constants.ATTENTIONS
    assert matrix.STRATEGY_ORDER[0] == constants.BASELINE_STRATEGY in STRATEGIES
    assert constants.DEFAULT_STRATEGY in STRATEGIES and constants.NATIVE not in STRATEGIES


def test_metrics_file_name_is_one_fact():
    from axolotl_packing_bench.results import record
    from axolotl_packing_bench.eval import rundir

    assert record.METRICS_FILE == rundir.METRICS_FILE == constants.METRICS_FILE


def test_groups_default_is_one_fact():
    from axolotl_packing_bench.plugin import relatedness

    assert relatedness.DEFAULT_K == constants.DEFAULT_GROUPS_K


def test_reliance_effects_are_the_probes():
    from axolotl_packing_bench.probes.reliance import EFFECTS

    assert tuple(EFFECTS) == constants.RELIANCE_EFFECTS
