"""lm-eval task YAMLs shipped with packbench (an lm-eval ``include_path``).

Use them from lm-eval itself too::

    lm_eval --model hf --model_args pretrained=RUN_DIR \
        --include_path "$(python -c 'import axolotl_packing_bench.eval.tasks as t; print(t.__path__[0])')" \
        --tasks packbench_offline
"""
