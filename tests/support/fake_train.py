"""A stand-in for `axolotl train CONFIG`, for fast runner tests.

Reads the recipe, then behaves as `FAKE_TRAIN_PLAN` (JSON: strategy -> action,
"*" for the rest; default "ok") says:

- `ok`: writes `<output_dir>/packbench_metrics.json` (runtime from `sleep` if given) and exits 0;
- `crash`: prints a traceback ending in `RuntimeError: boom in <strategy>` and exits 1;
- `failed_metrics`: writes metrics with status failed and exits 1;
- `log_only`: prints Hugging Face trainer lines, writes no metrics, exits 0;
- `sleep:N`: sleeps N seconds (for timeouts and Ctrl-C), then acts `ok`;
- `raise`: raises `RuntimeError: raised in <strategy>` (an uncaught exception);
- `kill:SIG`: kills itself with signal SIG (e.g. `kill:SIGKILL`, `kill:SIGSEGV`).

Each call appends `<cell strategy> <pid>` to `$FAKE_TRAIN_CALLS` when set. The metrics record
`processes: $FAKE_TRAIN_PROCESSES` (default 1), as the plugin records the ranks it trained on.
As a command: `python fake_train.py CONFIG`; as a warm worker's train entry:
`tests.support.fake_train:run` (called with the config path).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import yaml


def main() -> int:
    return run(sys.argv[1])


def run(config: str) -> int:
    """Train (pretend) on the recipe at `config`; returns the exit status."""
    config_path = Path(config)
    config = yaml.safe_load(config_path.read_text())
    strategy = config.get("packbench_strategy") or ("native" if config.get("sample_packing") else "padding")
    plan = json.loads(os.environ.get("FAKE_TRAIN_PLAN", "{}"))
    action = plan.get(strategy, plan.get("*", "ok"))
    calls = os.environ.get("FAKE_TRAIN_CALLS")
    if calls:
        with open(calls, "a") as handle:
            handle.write(f"{strategy} {os.getpid()}\n")
    print(f"fake train of {config_path} ({strategy}): {action}", flush=True)
    if action.startswith("sleep:"):
        time.sleep(float(action.split(":", 1)[1]))
        action = "ok"
    if action == "raise":
        raise RuntimeError(f"raised in {strategy}")
    if action.startswith("kill:"):
        import signal

        os.kill(os.getpid(), getattr(signal, action.split(":", 1)[1]))
        time.sleep(10)
    output = Path(config["output_dir"])
    output.mkdir(parents=True, exist_ok=True)
    if action == "crash":
        print('Traceback (most recent call last):\n  File "train.py", line 1, in <module>')
        print(f"RuntimeError: boom in {strategy}")
        print("[2026-01-01 00:00:00] [WARNING] [py.warnings] something harmless")
        return 1
    if action == "log_only":
        print(" 10/10 [00:01<00:00, 9.0it/s]{'loss': '4.2', 'epoch': '1.0'}")
        print("{'train_runtime': '3.5', 'train_samples_per_second': '20.0', 'train_loss': '4.5', 'epoch': '1'}")
        return 0
    speed = {"padding": 1.0, "random": 2.5, "greedy": 3.0, "bfd": 3.1, "sequential": 2.0, "native": 2.9}.get(
        strategy, 1.0
    )
    metrics = {
        "schema_version": 1,
        "run_id": f"fake-{os.getpid()}-{time.time_ns()}",
        "status": "failed" if action == "failed_metrics" else "ok",
        "error": "ValueError: packing failed" if action == "failed_metrics" else None,
        "strategy": strategy,
        "attention": config.get("packbench_attention"),
        "capacity": config.get("sequence_len"),
        "model": {"path": config.get("base_model"), "parameters": 1000},
        "dataset": {
            "paths": [entry.get("path") for entry in config.get("datasets", [])],
            "samples": 100,
            "real_tokens": 10000,
        },
        "packing": {
            "rows": int(100 / speed),
            "lower_bound": 20,
            "efficiency": min(0.99, 0.3 * speed),
            "truncated": 0,
            "split": 0,
            "dropped": 0,
        },
        "training": {
            "steps": int(25 / speed),
            "epochs": 1.0,
            "runtime_s": round(60.0 / speed, 2),
            "samples_per_s": round(100 / (60.0 / speed), 2),
            "real_tokens_per_s": round(10000 / (60.0 / speed), 1),
            "final_train_loss": 5.0 + 0.1 * speed,
            "eval_loss": None,
        },
        "peak_memory_mb": 100.0,
        "processes": int(os.environ.get("FAKE_TRAIN_PROCESSES", "1")),  # the ranks the plugin would have seen
        "leakage": None,
        "versions": {"axolotl": "0.19.0", "python": "3.11.7"},
        "hardware": {"cpu": "Fake CPU", "cpu_count": 2, "memory_gb": 8.0, "gpu": None, "gpu_count": 0},
    }
    (output / config.get("packbench_metrics_file", "packbench_metrics.json")).write_text(json.dumps(metrics))
    return 1 if action == "failed_metrics" else 0


if __name__ == "__main__":
    sys.exit(main())
