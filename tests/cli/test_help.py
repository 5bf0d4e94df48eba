"""Every command has help, and `packbench --help` stays instant (no torch, no Axolotl)."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from axolotl_packing_bench.cli import COMMANDS, main

BENCH_COMMANDS = ("validate", "recipes", "run", "status", "record", "leaderboard", "compare")


def shipped_commands() -> list[str]:
    with click.Context(main) as ctx:
        return main.list_commands(ctx)


def test_bench_commands_are_shipped():
    assert set(BENCH_COMMANDS) <= set(shipped_commands())


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(name):
    if name not in shipped_commands():
        pytest.skip(f"`{name}` is not in this build yet")
    result = CliRunner().invoke(main, [name, "--help"], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.output.startswith(f"Usage: main {name}") or "Usage:" in result.output
    command = main.get_command(click.Context(main), name)
    assert command.help and command.help.strip(), f"`{name}` has no help text"


def test_top_level_help_lists_commands():
    result = CliRunner().invoke(main, ["--help"], catch_exceptions=False)
    assert result.exit_code == 0
    for name in BENCH_COMMANDS:
        assert name in result.output


def test_help_does_not_import_torch_or_axolotl():
    code = (
        "import sys, json\n"
        "from click.testing import CliRunner\n"
        "from axolotl_packing_bench.cli import main\n"
        "result = CliRunner().invoke(main, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "for name in ('run', 'validate', 'record', 'compare'):\n"
        "    assert CliRunner().invoke(main, [name, '--help']).exit_code == 0\n"
        "print(json.dumps(sorted(m for m in ('torch', 'axolotl', 'transformers', 'datasets') if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []
