"""Where a training step's time goes: runs of the training benchmark under py-spy, split by part.

    .venv/bin/pip install py-spy
    .venv/bin/python benchmarks/profile_training.py padding bfd native [--rate 200]

Each run is the training benchmark's own recipe (`SETTINGS` in test_training_speed.py, offline as it
runs: tiny-70b-init, synth-69k unless `PACKBENCH_BENCH_DATASET` says otherwise, one epoch) trained once
under `py-spy record --format raw`. Of the samples taken inside the trainer's training loop, each is given
to the first part of `PARTS` whose marker its stack holds; the table gives each part's share, and that
share of the profiled run's trainer runtime per step (py-spy samples without pausing the process,
`--nonblocking`)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))
sys.path.insert(0, str(Path(__file__).parent))

from test_training_speed import SETTINGS, model_and_data, run_recipe  # noqa: E402

from tests.plugin.conftest import AXOLOTL  # noqa: E402

TRAINING_LOOP = "_inner_training_loop ("
# (part, markers): a sample goes to the first part one of whose markers its stack holds. Stacks are
# outermost first, so the order below goes from the step's big phases into the model's layers.
PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("backward (every layer)", ("Accelerator.backward (",)),
    ("optimizer step and gradient clipping", ("AcceleratedOptimizer.step (", "clip_grad")),
    ("leakage probe (once, before the first step)", ("measure_leakage (",)),
    ("memory release (once, at the end)", ("free_memory (",)),
    (
        "forward: attention kernel",
        ("segment_sdpa_attention (", "sdpa_attention_forward (", "eager_attention_forward ("),
    ),
    ("forward: attention projections and rotary", ("Attention.forward (",)),
    ("forward: MLP", ("MLP.forward (",)),
    ("forward: norms and residuals", ("DecoderLayer.forward (",)),
    ("forward: embedding and final norm", ("Model.forward (",)),
    ("forward: output layer and loss", ("ForCausalLM.forward (", "cross_entropy", "ForCausalLMLoss")),
    ("batches (sampler, collator)", ("get_train_dataloader (", "get_batch_samples (", "DataLoader")),
    ("forward: the rest", ("compute_loss",)),
)
OTHER = "trainer bookkeeping (callbacks, logging, steps)"


def part_of(stack: str) -> str:
    for part, markers in PARTS:
        if any(marker in stack for marker in markers):
            return part
    return OTHER


def profile(run: str, inputs: tuple[str, str], workdir: Path, rate: int) -> tuple[Counter, dict]:
    """Train `run` on `inputs` (model, dataset) under py-spy; the training loop's samples by part, and the
    run's training metrics."""
    cfg = run_recipe(run, inputs, workdir)
    workdir.mkdir(parents=True)
    recipe_path = workdir / "recipe.yml"
    recipe_path.write_text(json.dumps(cfg))  # JSON is YAML
    raw = workdir / "profile.txt"
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        sys.exit("py-spy is not installed in this environment: run `.venv/bin/pip install py-spy`, then this again")
    command = [py_spy, "record", "--format", "raw"]
    command += ["--rate", str(rate), "--nonblocking", "--subprocesses", "--output", str(raw), "--"]
    command += [AXOLOTL, "train", str(recipe_path), "--launcher", "python"]
    proc = subprocess.run(command, cwd=workdir, capture_output=True, text=True, env={**os.environ})
    if proc.returncode != 0:
        sys.exit(f"{run}: py-spy or the training failed:\n{proc.stderr[-3000:]}")
    parts: Counter = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if TRAINING_LOOP in stack:
            parts[part_of(stack)] += int(count)
    metrics = json.loads((Path(cfg["output_dir"]) / "packbench_metrics.json").read_text())
    return parts, metrics["training"]


def table(results: dict[str, tuple[Counter, dict]]) -> str:
    """Each part's share of the training loop's samples, and that share of the trainer's runtime per step."""
    names = [part for part, _ in PARTS] + [OTHER]
    runs = list(results)
    lines = [
        "| part | " + " | ".join(f"{run} ms/step (share)" for run in runs) + " |",
        "| --- | " + " | ".join("---:" for _ in runs) + " |",
    ]
    for name in [*names, "whole step"]:
        cells = []
        for run in runs:
            parts, training = results[run]
            samples = sum(parts.values()) if name == "whole step" else parts[name]
            share = samples / max(sum(parts.values()), 1)
            cells.append(f"{1000 * share * training['runtime_s'] / training['steps']:.1f} ({share:.0%})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", choices=list(SETTINGS))
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--keep", type=Path, help="copy each run's raw py-spy stacks here, as RUN.txt")
    args = parser.parse_args()
    inputs = model_and_data()
    results = {}
    with tempfile.TemporaryDirectory(prefix="packbench-profile-") as tmp:
        for run in args.runs:
            results[run] = profile(run, inputs, Path(tmp) / run, args.rate)
            parts, training = results[run]
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                shutil.copy(Path(tmp) / run / "profile.txt", args.keep / f"{run}.txt")
            print(
                f"{run}: {sum(parts.values())} samples in the training loop; "
                f"trainer runtime {training['runtime_s']:.1f} s "
                f"under the profiler, {training['steps']} steps"
            )
    print(table(results))


if __name__ == "__main__":
    main()
