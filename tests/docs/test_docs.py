"""The README and the guides name only what exists, and their sample outputs are the tool's own.

Checked in README.md, docs/*.md and the READMEs of the plugin, the backends and recipes/:

- every repository path they name (in code spans, code blocks and links) exists;
- every `packbench <command> [--option]` they show is a command and option of the Click CLI,
  and every other `--option` in code belongs to some packbench command or a listed external tool;
- every markdown link `[...](file#anchor)` points at a file and, for markdown files, a heading;
- every ```console block starting with `$ packbench ...` is that command's output, run here
  (`PACKBENCH_REWRITE_DOCS=1` rewrites the blocks from the current output instead of failing);
- each extension point of docs/extending.md has an example that runs.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from axolotl_packing_bench.cli import main

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "axolotl_packing_bench"
DOCS = sorted(
    [
        ROOT / "README.md",
        *(ROOT / "docs").glob("*.md"),
        PACKAGE / "plugin" / "README.md",
        PACKAGE / "running" / "backends" / "README.md",
        ROOT / "recipes" / "README.md",
    ]
)
REWRITE = os.environ.get("PACKBENCH_REWRITE_DOCS") == "1"

GENERATED_PREFIXES = (
    "runs/",
    "output/",
    ".venv",
    "deepspeed_configs",
    "leaderboard/results.jsonl",
    "leaderboard/LEADERBOARD.md",
)
"""Paths a run or an install creates; a fresh clone does not hold them."""

GENERATED_NAMES = {"packbench_metrics.json", "recipe.yml", "pretraining.json"}
"""File names the docs mention that a run, an install or the reader's own package creates."""

EXTERNAL_OPTIONS = {
    "--no-build-isolation",  # pip
    "--launcher",  # axolotl train
    "--head",
    "--address",  # ray start
    "--gres",
    "--cpus-per-task",
    "--mem",  # sbatch
    "--cell",
    "--repeat",  # python -m axolotl_packing_bench.running.task (the Slurm array task)
    "--rounds",
    "--label",
    "--factors",  # benchmarks/gate_power.py
}
"""Options of other tools the docs show (pip, axolotl, ray, sbatch, pytest, the Slurm array task)."""

EXTENSION_POINTS = ("strategy", "column", "probe", "backend", "compat")


@dataclass(frozen=True)
class Block:
    """A fenced code block: its language, its text, and the line its fence opens on."""

    lang: str
    text: str
    line: int


def split_markdown(text: str) -> tuple[str, list[Block]]:
    """The prose (code blocks blanked, line numbers kept) and the fenced blocks of a markdown text."""
    prose: list[str] = []
    blocks: list[Block] = []
    fence: str | None = None
    lang, body, start = "", [], 0
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if fence is None and stripped.startswith("```"):
            fence, lang, body, start = "```", stripped[3:].strip(), [], number
            prose.append("")
        elif fence is not None and stripped.startswith("```"):
            blocks.append(Block(lang, "\n".join(body), start))
            fence = None
            prose.append("")
        elif fence is not None:
            body.append(line)
            prose.append("")
        else:
            prose.append(line)
    return "\n".join(prose), blocks


def code_spans(prose: str) -> list[str]:
    """Inline code spans of the prose, whitespace collapsed (a span may wrap lines)."""
    return [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose)]


def link_targets(prose: str) -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", prose)


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


# ---- the README's two commands ---------------------------------------------------------------------------

MAIN_COMMAND = (
    'python3 -m venv .venv && .venv/bin/pip install -e ".[axolotl]" "torch==2.13.0" '
    "&& .venv/bin/packbench run --matrix recipes/matrices/smoke.yaml"
)
TEST_COMMAND = (
    'python3 -m venv .venv && .venv/bin/pip install -e ".[axolotl,eval,dev,cluster]" "torch==2.13.0" '
    "&& .venv/bin/python -m pytest"
)


def test_the_readme_keeps_its_two_commands_and_ci_runs_the_second():
    _, blocks = split_markdown((ROOT / "README.md").read_text(encoding="utf-8"))
    commands = [block.text.strip() for block in blocks if block.lang == "bash"]
    assert MAIN_COMMAND in commands and TEST_COMMAND in commands
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").replace(" -q ", " ")
    install, _, test = TEST_COMMAND.partition(" && .venv/bin/python")
    assert install in ci and f".venv/bin/python{test}\n" in ci, ".ci/run no longer runs the README's test command"


def test_every_docs_page_is_linked_from_the_readme():
    prose, _ = split_markdown((ROOT / "README.md").read_text(encoding="utf-8"))
    linked = {target.partition("#")[0] for target in link_targets(prose)}
    orphans = [page.name for page in sorted((ROOT / "docs").glob("*.md")) if f"docs/{page.name}" not in linked]
    assert not orphans, f"docs pages the README does not link to: {', '.join(orphans)}"


# ---- (a) repository paths -------------------------------------------------------------------------------

PATH_TOKEN = re.compile(r"^[\w.~-]*(/[\w.<>*{}\[\]-]*)+$")
FILE_NAME = re.compile(r"^[\w.-]+\.(py|md|yaml|yml|jsonl|json|png|toml)$")
PREFIXES = ("axolotl_packing_bench/", "recipes/", "leaderboard/", "benchmarks/", "tests/", "docs/", ".ci/")


def repo_names() -> set[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return {Path(line).name for line in listed.splitlines()} | {p.name for p in ROOT.glob("docs/*.md")}


def path_exists(token: str, doc: Path) -> bool:
    token = token.rstrip("/")
    if any(token.startswith(prefix.rstrip("/")) for prefix in GENERATED_PREFIXES):
        return True
    placeholder = re.search(r"[<>*{}\[]", token)
    if placeholder:  # `probes/<name>.py`: the folder before the placeholder must exist
        token = token[: placeholder.start()].rpartition("/")[0]
        if not token:
            return True
    candidates = [(base / token).resolve() for base in (ROOT, doc.parent, PACKAGE)]
    return any(path.exists() and path.is_relative_to(ROOT) for path in candidates)  # a clone holds only the repo


def clean(token: str) -> str:
    return token.lstrip("([\"'*").rstrip(")],;:.'\"*")


def path_tokens(prose: str, blocks: list[Block]) -> Iterator[str]:
    """Paths named in code spans and link targets (any token with a slash), and in code blocks (known prefixes)."""
    for span in code_spans(prose):
        for token in span.split():
            yield clean(token)
    for target in link_targets(prose):
        yield target.partition("#")[0]
    for block in blocks:
        for token in re.split(r"[\s=\"'(),]+", block.text):
            if token.startswith(PREFIXES):
                yield clean(token)


def module_exists(dotted: str) -> bool:
    """`axolotl_packing_bench.a.b[.attr]`: the longest module prefix exists and names the attribute, if any."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:cut])
        source = base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
        if source.is_file():
            rest = parts[cut:]
            return not rest or re.search(rf"\b{re.escape(rest[0])}\b", source.read_text(encoding="utf-8")) is not None
    return False


def missing_paths(doc: Path) -> list[str]:
    prose, blocks = split_markdown(doc.read_text(encoding="utf-8"))
    names = repo_names()
    missing = []
    for token in path_tokens(prose, blocks):
        if not token or "://" in token or token.startswith(("/", "~", "-", "$", "http", "#", "mailto:")):
            continue
        if PATH_TOKEN.match(token) and "/" in token:
            if not path_exists(token, doc):
                missing.append(token)
        elif FILE_NAME.match(token) and not token.startswith(".") and token not in names | GENERATED_NAMES:
            missing.append(token)
    text = doc.read_text(encoding="utf-8")
    for dotted in re.findall(r"\baxolotl_packing_bench(?:\.\w+)+", text):
        if not module_exists(dotted):
            missing.append(dotted)
    return sorted(set(missing))


@pytest.mark.parametrize("doc", DOCS, ids=relative)
def test_every_path_named_exists(doc: Path):
    missing = missing_paths(doc)
    assert not missing, f"{relative(doc)} names paths or modules that do not exist: {', '.join(missing)}"


# ---- (b) packbench commands and options ----------------------------------------------------------------


def cli_table() -> dict[tuple[str, ...], set[str]]:
    """(command, [subcommand]) -> its option names, from the Click CLI itself."""
    table: dict[tuple[str, ...], set[str]] = {}

    def walk(command: click.Command, path: tuple[str, ...]) -> None:
        options = {
            name
            for param in command.params
            if isinstance(param, click.Option)
            for name in (*param.opts, *param.secondary_opts)
        }
        table[path] = options | {"--help", "-h"}
        if isinstance(command, click.Group):
            with click.Context(command) as ctx:
                for name in command.list_commands(ctx):
                    walk(command.get_command(ctx, name), (*path, name))

    walk(main, ())
    table[()] |= {"--version"}
    return table


def shell_lines(block: Block) -> Iterator[str]:
    """A code block's logical lines (backslash continuations joined), comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", block.text)
    for line in joined.splitlines():
        line = line.strip().removeprefix("$ ")
        yield re.sub(r"(^|\s)#.*$", "", line)


def invocations(text: str) -> Iterator[list[str]]:
    """The argument lists following each `packbench` word in a command text, up to a shell separator."""
    for match in re.finditer(r"(?:^|[\s`(/])packbench[ \t]+(?=[a-z-])", text):
        rest = re.split(r"&&|\|\||[|;)]|\s#", text[match.end() :], maxsplit=1)[0]
        yield [token for token in rest.replace("[", " ").replace("]", " ").split()]


def command_problems(words: list[str], table: dict[tuple[str, ...], set[str]]) -> list[str]:
    path: tuple[str, ...] = ()
    index = 0
    while index < len(words) and (*path, words[index]) in table:
        path = (*path, words[index])
        index += 1
    if not path and words and not words[0].startswith("-"):
        return [f"packbench {words[0]}"]
    problems = []
    for word in words[index:]:
        for option in word.split("/"):
            option = option.split("=")[0]
            if option.startswith("-") and option not in table[path] and len(option) > 1:
                problems.append(f"packbench {' '.join(path)} {option}".replace("  ", " "))
    return problems


def cli_problems(doc: Path) -> list[str]:
    table = cli_table()
    every_option = set().union(*table.values()) | EXTERNAL_OPTIONS
    prose, blocks = split_markdown(doc.read_text(encoding="utf-8"))
    texts = code_spans(prose) + [
        line for block in blocks if block.lang in ("", "bash", "sh", "console", "python") for line in shell_lines(block)
    ]
    problems = []
    for text in texts:
        for words in invocations(text):
            problems += command_problems(words, table)
        if "packbench" not in text or not list(invocations(text)):
            for option in re.findall(r"(?:^|[\s/\[])(--[a-z][\w-]*)", text):
                if option not in every_option:
                    problems.append(f"{option} (no packbench command has it)")
    return sorted(set(problems))


@pytest.mark.parametrize("doc", DOCS, ids=relative)
def test_every_command_and_option_shown_exists(doc: Path):
    problems = cli_problems(doc)
    assert not problems, f"{relative(doc)} shows commands or options the CLI does not have: {'; '.join(problems)}"


def test_the_command_check_catches_a_stale_command_and_option():
    table = cli_table()
    assert command_problems(["run", "--matrix", "m.yaml", "--jobs", "2"], table) == []
    assert command_problems(["probe", "reliance", "--model", "DIR"], table) == []
    assert command_problems(["train", "--matrix", "m.yaml"], table) == ["packbench train"]
    assert command_problems(["run", "--parallel", "2"], table) == ["packbench run --parallel"]


# ---- (c) links and anchors ------------------------------------------------------------------------------


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    prose, _ = split_markdown(path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", prose, flags=re.MULTILINE):
        base = slug(heading)
        count = seen.get(base, 0)
        found.add(base if count == 0 else f"{base}-{count}")
        seen[base] = count + 1
    return found


def broken_links(doc: Path) -> list[str]:
    prose, _ = split_markdown(doc.read_text(encoding="utf-8"))
    broken = []
    for target in link_targets(prose):
        if re.match(r"^[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        path = (doc.parent / file).resolve() if file else doc
        if not path.exists() or (anchor and path.suffix == ".md" and anchor not in anchors(path)):
            broken.append(target)
    return sorted(set(broken))


@pytest.mark.parametrize("doc", DOCS, ids=relative)
def test_every_link_and_anchor_resolves(doc: Path):
    broken = broken_links(doc)
    assert not broken, f"{relative(doc)} links to files or sections that do not exist: {', '.join(broken)}"


def test_the_checks_catch_a_stale_path_link_and_anchor(tmp_path):
    (tmp_path / "a.md").write_text("# Real section\n")
    doc = tmp_path / "doc.md"
    doc.write_text(
        "See `bench/leaderboard.py`, `../shared/ANCHORS.md`, [x](a.md#no-such-section), [y](nowhere.md), "
        "[z](a.md#real-section).\n"
    )
    assert {"bench/leaderboard.py", "../shared/ANCHORS.md"} <= set(missing_paths(doc))
    assert broken_links(doc) == ["a.md#no-such-section", "nowhere.md"]
    assert slug("Quality, not only speed: held-out `loss`") == "quality-not-only-speed-held-out-loss"


# ---- sample outputs -------------------------------------------------------------------------------------

CONSOLE = re.compile(r"^```console\n\$ (packbench [^\n]+)\n(.*?)^```$", flags=re.MULTILINE | re.DOTALL)


def normalize(argv: list[str], output: str) -> str:
    """Output as compared: trailing spaces dropped; `stats`' time column, which depends on the machine, masked."""
    lines = [line.rstrip() for line in output.strip("\n").splitlines()]
    if argv[0] == "stats":
        timed = False
        for index, line in enumerate(lines):
            if line.startswith("strategy") and line.endswith("time ms"):
                timed = True
            elif timed and line.strip():
                lines[index] = re.sub(r"\s+[\d.,]+$", " #", line)
            else:
                timed = False
    return "\n".join(lines)


def console_samples() -> list[tuple[Path, str]]:
    return [(doc, match.group(1)) for doc in DOCS for match in CONSOLE.finditer(doc.read_text(encoding="utf-8"))]


def run_sample(command: str, monkeypatch) -> str:
    argv = shlex.split(command)[1:]
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, argv, catch_exceptions=False)
    assert result.exit_code == 0, f"`{command}` exited {result.exit_code}: {result.output}"
    return result.stdout


def test_the_docs_show_a_stats_and_a_validate_sample():
    commands = [command.split()[1] for _, command in console_samples()]
    assert "stats" in commands and "validate" in commands


@pytest.mark.parametrize(
    ("doc", "command"), console_samples(), ids=lambda value: value if isinstance(value, str) else relative(value)
)
def test_sample_output_is_what_the_command_prints(doc: Path, command: str, monkeypatch):
    output = run_sample(command, monkeypatch)
    text = doc.read_text(encoding="utf-8")
    match = next(m for m in CONSOLE.finditer(text) if m.group(1) == command)
    argv = shlex.split(command)[1:]
    if REWRITE:
        doc.write_text(text[: match.start(2)] + output.rstrip("\n") + "\n" + text[match.end(2) :], encoding="utf-8")
        return
    assert normalize(argv, match.group(2)) == normalize(argv, output), (
        f"{relative(doc)}: the sample of `{command}` differs from what it prints now; "
        "rerun with PACKBENCH_REWRITE_DOCS=1 to update it"
    )


# ---- runnable extension examples ------------------------------------------------------------------------

EXAMPLE = re.compile(r"^<!-- example: (\w+) -->\n```python\n(.*?)^```$", flags=re.MULTILINE | re.DOTALL)


def examples() -> dict[str, str]:
    return {name: code for name, code in EXAMPLE.findall((ROOT / "docs" / "extending.md").read_text(encoding="utf-8"))}


def test_every_extension_point_has_an_example():
    assert sorted(examples()) == sorted(EXTENSION_POINTS)


@pytest.mark.parametrize("name", EXTENSION_POINTS)
def test_extension_example_runs(name: str, tmp_path):
    code = examples()[name]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, f"the {name} example of docs/extending.md fails:\n{done.stderr[-2000:]}"
