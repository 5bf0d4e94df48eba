"""Pre-training step time of the on-demand base against tiny-70b's, measured in one process.

Builds nothing: each base is initialized from its seed and trained ``--steps``
steps of its own recipe (the first batches of its real build, one thread, as
`packbench assets` builds), in alternating blocks so drift on the machine falls
on both. Prints seconds per step, the ratio, and the projected full build time
(recipe steps x seconds per step). Run it with nothing else on the machine:

    python benchmarks/pretrain_step_rate.py --steps 40
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _step_times(name: str, steps: int, tokenizer) -> list[float]:
    import torch
    from transformers import LlamaForCausalLM

    from axolotl_packing_bench.assets.models import model_config
    from axolotl_packing_bench.assets.pretrain import pretrain
    from axolotl_packing_bench.assets.specs import MODEL_SEED, MODELS
    from axolotl_packing_bench.compat.transformers_api import set_attn_implementation

    spec = MODELS[name]
    torch.manual_seed(MODEL_SEED)
    model = LlamaForCausalLM(model_config(spec)).to(torch.float32)
    set_attn_implementation(model.config, "sdpa")  # as the build trains
    recipe = dataclasses.replace(spec.pretrain, steps=steps)
    stamps: list[float] = []
    pretrain(model, tokenizer, recipe, progress=lambda *_: stamps.append(time.perf_counter()))
    return [b - a for a, b in zip(stamps, stamps[1:])]  # the first step (warm-up) is left out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="steps per block (default 40)")
    parser.add_argument("--blocks", type=int, default=2, help="alternating blocks per base (default 2)")
    parser.add_argument("--model", default="tiny-70b-ratio")
    parser.add_argument("--reference", default="tiny-70b")
    args = parser.parse_args()

    from statistics import median

    from transformers import AutoTokenizer

    from axolotl_packing_bench.assets.api import ensure_tokenizer
    from axolotl_packing_bench.assets.specs import MODELS

    tokenizer = AutoTokenizer.from_pretrained(str(ensure_tokenizer()), local_files_only=True)
    times: dict[str, list[float]] = {args.reference: [], args.model: []}
    for _ in range(args.blocks):
        for name in times:
            times[name] += _step_times(name, args.steps, tokenizer)
    per_step = {name: median(values) for name, values in times.items()}
    result = {
        "steps_timed": {name: len(values) for name, values in times.items()},
        "median_s_per_step": {name: round(value, 3) for name, value in per_step.items()},
        "ratio": round(per_step[args.model] / per_step[args.reference], 2),
        "projected_build_s": {name: round(per_step[name] * MODELS[name].pretrain.steps) for name in per_step},
        "recipe_steps": {name: MODELS[name].pretrain.steps for name in per_step},
        "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
