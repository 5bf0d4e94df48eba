"""`packbench doctor` from a checkout, installed or not: `python benchmarks/gpu_check.py [OPTIONS]`.

For a GPU machine with torch and transformers but neither Axolotl nor this
package installed: copy the working tree there and run this file. It takes
`packbench doctor`'s options (`--json FILE`, `--markdown FILE`, `--help`...)
and exits as it does: 0 when every isolated path isolates, 1 when one leaks,
2 on bad input.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from axolotl_packing_bench.cli import main as packbench

    packbench(["doctor", *sys.argv[1:]], prog_name="gpu_check.py")


if __name__ == "__main__":
    main()
