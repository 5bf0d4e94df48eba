"""`python -m axolotl_packing_bench.cli` runs the `packbench` command."""

from axolotl_packing_bench.cli import main

main()
