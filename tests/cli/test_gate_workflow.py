"""The upgrade gate's CI workflow and its shell twin: valid YAML, interleaved A B, and every packbench command real."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
import yaml

from axolotl_packing_bench.cli import main

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "packbench-gate.yml"
SCRIPT = ROOT / "benchmarks" / "gate-upgrade.sh"
INVOCATION = re.compile(r"(?:^|[\s/])packbench\"?\s+([a-z][a-z-]*)\b([^\n|;&]*)")


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def workflow_shell() -> str:
    return "\n".join(step["run"] for job in workflow()["jobs"].values() for step in job["steps"] if "run" in step)


def invocations(text: str) -> list[tuple[str, list[str]]]:
    found = []
    for line in text.splitlines():
        code = line.split("||")[0].strip()
        if code.startswith(("#", "echo ")):
            continue
        for name, rest in INVOCATION.findall(code):
            found.append((name, shlex.split(rest)))
    return found


def test_the_workflow_is_a_real_workflow():
    data = workflow()
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "workflow_dispatch" in triggers
    steps = data["jobs"]["gate"]["steps"]
    assert data["jobs"]["gate"]["runs-on"] == "ubuntu-latest"
    assert any(step.get("uses", "").startswith("actions/checkout@") for step in steps)
    assert sum(step.get("uses", "").startswith("actions/setup-python@") for step in steps) == 2


@pytest.mark.parametrize("source", ["workflow", "script"])
def test_every_packbench_command_exists_with_its_options(source):
    text = workflow_shell() if source == "workflow" else SCRIPT.read_text()
    calls = invocations(text)
    assert {name for name, _ in calls} >= {"run", "compare", "validate"}
    context = click.Context(main)
    for name, args in calls:
        command = main.get_command(context, name)
        assert command is not None, f"packbench {name} does not exist"
        options = {opt: param for param in command.params for opt in (*param.opts, *param.secondary_opts)}
        for index, arg in enumerate(args):
            if not arg.startswith("--"):
                continue
            assert arg in options, f"packbench {name} has no option {arg}"
            param = options[arg]
            value = args[index + 1] if index + 1 < len(args) else None
            if isinstance(param.type, click.Choice) and value and "$" not in value:
                assert value in param.type.choices, f"packbench {name} {arg} {value}: not one of {param.type.choices}"
            if arg == "--max-slowdown" and "$" not in value:
                from axolotl_packing_bench.report.compare import parse_threshold

                parse_threshold(value)


@pytest.mark.parametrize("source", ["workflow", "script"])
def test_baseline_and_candidate_repeats_are_interleaved_in_two_environments(source):
    text = workflow_shell() if source == "workflow" else SCRIPT.read_text()
    runs = [line for line in text.splitlines() if re.search(r"packbench\"? run\b", line) and "--repeats" in line]
    assert len(runs) == 2
    old, new = runs
    assert ("venv-old" in old or "OLD_VENV" in old) and ("venv-new" in new or "NEW_VENV" in new)
    loop = text[text.index("for repeat in") : text.index("done", text.index("for repeat in"))]
    assert loop.index(old.strip()) < loop.index(new.strip())  # A then B, in one loop over the repeats
    assert "baseline" in old and "candidate" in new
    compares = [args for name, args in invocations(text) if name == "compare"]
    assert compares and all("--baseline" in args and "--candidate" in args for args in compares)
