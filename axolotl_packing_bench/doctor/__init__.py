"""`packbench doctor`: is packing isolated and fast on this machine's torch, without Axolotl?

On the device torch sees (CUDA when present, else the CPU) it builds a
random-initialised Llama (`shape`), packs a real SFT set's lengths with `bfd`
through the plugin's own row builder and collator (`lengths`, `batches`),
checks on every attention path available that each packed segment gets the
logits it gets alone and that the `shared` control leaks (`paths`,
`isolation`), times forward + backward for padding and packed rows
(`throughput`) and writes a JSON file and a markdown table (`report`).
Only torch, transformers and the package's core dependencies are needed.
"""

from __future__ import annotations

from axolotl_packing_bench.doctor.check import Findings, Settings, run_check

__all__ = ["Findings", "Settings", "run_check"]
