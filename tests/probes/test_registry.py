"""The probe registry: settings checked against each probe's schema, probes run by name from a matrix or
the CLI, a failing probe is an error entry, and a probe's columns are what the leaderboard shows."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from axolotl_packing_bench.cli import main
from axolotl_packing_bench.matrix.problems import MatrixError
from axolotl_packing_bench.matrix.spec import expand, load_matrix
from axolotl_packing_bench.probes import registry as probe_registry
from axolotl_packing_bench.probes.registry import (
    Probe,
    ProbeColumn,
    get_probe,
    probe_columns,
    run_probe,
    settings_problems,
)
from axolotl_packing_bench.results.store import RunResult
from axolotl_packing_bench.running.follow_up import follow_up_for
from axolotl_packing_bench.running.runner import CellPlan


def count_tokens(run_dir: Path, settings: dict) -> dict:
    """A real, tiny probe: counts the words of the cell's output/model.txt (settings: scale)."""
    words = len((run_dir / "output" / "model.txt").read_text().split())
    return {"words": words * settings.get("scale", 1)}


WORDS = Probe(
    name="words",
    settings={"scale": int},
    run=count_tokens,
    columns=lambda results: (
        [ProbeColumn("words", lambda r: r.metric("words", "words"), ",.0f", "pct", "")]
        if any(r.metric("words", "words") is not None for r in results)
        else []
    ),
    summary="words in the model file",
)


@pytest.fixture
def words_probe(monkeypatch):
    monkeypatch.setitem(probe_registry._LOADED, "words", WORDS)
    return WORDS


@pytest.fixture
def cell(tmp_path) -> Path:
    (tmp_path / "output").mkdir()
    (tmp_path / "output" / "model.txt").write_text("three little words")
    return tmp_path


def result(metrics: dict, strategy: str = "greedy") -> RunResult:
    return RunResult(
        run_id=strategy,
        cell_id=strategy,
        matrix="m",
        status="ok",
        reason=None,
        axes={"model": "m", "dataset": "d", "strategy": strategy, "attention": "isolated"},
        labels={},
        metrics=metrics,
        recorded_at="2026-01-01T00:00:00+00:00",
    )


def test_the_reliance_probe_is_built_in_with_its_settings_schema():
    reliance = get_probe("reliance")
    assert "reliance" in probe_registry.probe_names()
    assert set(reliance.settings) == {"data", "k", "bootstrap", "seed", "max_questions", "generate", "threads"}


def test_an_unknown_probe_names_the_valid_ones():
    with pytest.raises(ValueError, match=r"^unknown probe 'relaince'; valid probes: .*reliance"):
        get_probe("relaince")
    assert settings_problems("relaince", {}) == [
        (
            "probes.relaince",
            "unknown probe (did you mean 'reliance'?)",
            f"use one of {', '.join(probe_registry.probe_names())}",
        )
    ]


def test_settings_are_checked_against_the_schema():
    assert settings_problems("reliance", None) == []
    assert settings_problems("reliance", {"max_questions": 40, "generate": False, "data": "x.jsonl"}) == []
    assert settings_problems("reliance", {"max_questons": 3}) == [
        (
            "probes.reliance.max_questons",
            "unknown setting of the reliance probe (did you mean 'max_questions'?)",
            "use one of data, k, bootstrap, seed, max_questions, generate, threads",
        )
    ]
    assert settings_problems("reliance", {"bootstrap": "many", "k": True}) == [
        ("probes.reliance.bootstrap", "is 'many', not a whole number", "make it a whole number"),
        ("probes.reliance.k", "is True, not a whole number", "make it a whole number"),
    ]
    assert settings_problems("reliance", [1]) == [
        (
            "probes.reliance",
            "must be a mapping of settings (or empty for the defaults)",
            "write its settings as key: value lines (data, k, bootstrap, seed, max_questions, generate, threads)",
        )
    ]


def test_run_probe_runs_a_registered_probe_and_turns_a_failure_into_an_error_entry(words_probe, cell, tmp_path_factory):
    assert run_probe("words", cell, {"scale": 2}) == {"words": 6}
    empty = tmp_path_factory.mktemp("no-model")
    report = run_probe("words", empty, {})
    assert report["error"].startswith("the words probe failed: FileNotFoundError")
    assert run_probe("nothing", cell) == {
        "error": "the nothing probe cannot be loaded: unknown probe 'nothing'; valid probes: "
        + ", ".join(probe_registry.probe_names())
    }


MATRIX = """\
base: {sequence_len: 64, micro_batch_size: 1, num_epochs: 1, learning_rate: 1.0e-4}
axes:
  model: [{name: m, path: /models/m, size: 1B}]
  dataset: [{name: d, datasets: [{path: /data/d.jsonl, ds_type: json, type: chat_template}]}]
  strategy: [padding]
probes:
"""


def test_a_matrix_runs_every_probe_it_names_and_stores_each_under_its_name(words_probe, tmp_path, cell):
    path = tmp_path / "m.yaml"
    path.write_text(MATRIX + "  words: {scale: 3}\n  reliance:\n")
    matrix = load_matrix(path)
    follow_up = follow_up_for(matrix, [])
    assert follow_up.probes == {"words": {"scale": 3}, "reliance": {}}
    calls = []
    reliance = dataclasses.replace(
        get_probe("reliance"), run=lambda run_dir, settings: calls.append(settings) or {"effects": {}}
    )
    probe_registry._LOADED["reliance"] = reliance
    try:
        plan = type("Plan", (), {"run_dir": cell, "cell": None})()
        done = follow_up(plan, result({"training": {"steps": 1}}))
    finally:
        del probe_registry._LOADED["reliance"]
    assert done.metrics["words"] == {"words": 9} and done.metrics["reliance"] == {"effects": {}}
    assert calls == [{}]


def test_a_probe_with_when_runs_only_on_the_cells_it_names(words_probe, tmp_path, cell):
    path = tmp_path / "m.yaml"
    path.write_text(
        MATRIX.replace("strategy: [padding]", "strategy: [padding, bfd]")
        + "  words: {scale: 2, when: {strategy: bfd}}\n  reliance: {when: {strategy: [padding, bfd]}, k: 2}\n"
    )
    matrix = load_matrix(path)
    assert matrix.probe_when == {"words": {"strategy": ("bfd",)}, "reliance": {"strategy": ("padding", "bfd")}}
    follow_up = follow_up_for(matrix, [])
    assert follow_up.probes == {"words": {"scale": 2}, "reliance": {"k": 2}}  # `when` is not passed to a probe
    calls = []
    reliance = dataclasses.replace(get_probe("reliance"), run=lambda run_dir, settings: calls.append(settings) or {})
    probe_registry._LOADED["reliance"] = reliance
    try:
        done = {
            one.axes["strategy"]: follow_up(CellPlan(one, cell), result({}, one.axes["strategy"])).metrics
            for one in expand(matrix)
        }
    finally:
        del probe_registry._LOADED["reliance"]
    assert done["bfd"]["words"] == {"words": 6} and "words" not in done["padding"]
    assert calls == [{"k": 2}, {"k": 2}]


def test_a_when_naming_no_axis_or_value_of_the_matrix_is_refused(tmp_path):
    path = tmp_path / "m.yaml"
    for when, key, message in [
        ("{datset: d}", "probes.reliance.when.datset", "unknown axis (did you mean 'dataset'?)"),
        ("{dataset: e}", "probes.reliance.when.dataset", "'e' is not a value of axis dataset"),
        ("[d]", "probes.reliance.when", "must be a mapping of axis: value"),
    ]:
        path.write_text(MATRIX + f"  reliance: {{when: {when}, k: 2}}\n")
        with pytest.raises(MatrixError) as raised:
            load_matrix(path)
        assert [(p.key, p.message.split(" (did")[0]) for p in raised.value.problems] == [
            (key, message.split(" (did")[0])
        ], when


def test_a_matrix_with_a_bad_probes_section_is_refused_with_each_problem(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(MATRIX + "  relaince: {}\n  reliance: {bootstrap: many}\n")
    with pytest.raises(MatrixError) as raised:
        load_matrix(path)
    found = [(p.key, p.message) for p in raised.value.problems]
    assert ("probes.relaince", "unknown probe (did you mean 'reliance'?)") in found
    assert ("probes.reliance.bootstrap", "is 'many', not a whole number") in found
    path.write_text(MATRIX.replace("probes:\n", "probes: [reliance]\n"))
    with pytest.raises(MatrixError) as raised:
        load_matrix(path)
    assert [(p.key, p.message) for p in raised.value.problems] == [
        ("probes", "must be a mapping of probe name to its settings")
    ]


def test_probe_columns_are_the_leaderboard_columns_of_the_probes_with_data(words_probe):
    from axolotl_packing_bench.report.leaderboard import Column

    effects = {
        "reliance": {"answer_loss": {"mean": 0.25, "ci": [0.1, 0.4]}},
        "few_shot": {"answer_loss": {"mean": -0.5, "ci": [-0.7, -0.3]}},
    }
    rows = [result({"reliance": {"effects": effects}}), result({"words": {"words": 7}}, "padding")]
    columns = probe_columns(rows, ["reliance", "words"])
    assert [c.title for c in columns] == ["reliance (Δ answer loss)", "few_shot (Δ answer loss)", "words"]
    assert columns[0].get(rows[0]) == 0.25 and columns[0].note(rows[0]) == " [+0.1000, +0.4000]"
    assert columns[2].get(rows[1]) == 7
    as_leaderboard = [Column(**vars(column)) for column in columns]  # the leaderboard's one-line use
    assert as_leaderboard[0].show(0.25) == "+0.2500"
    assert probe_columns([result({})], ["reliance", "words"]) == []


def test_probe_cli_lists_and_runs_registered_probes(words_probe, cell, tmp_path):
    runner = CliRunner()
    listed = runner.invoke(main, ["probe", "list"], catch_exceptions=False)
    assert listed.exit_code == 0
    assert "words: words in the model file\n  settings: scale (int)\n" in listed.output
    assert "reliance: how much answers depend" in listed.output
    out = tmp_path / "words.json"
    ran = runner.invoke(
        main, ["probe", "run", "words", str(cell), "--set", "scale=4", "--json", str(out)], catch_exceptions=False
    )
    assert ran.exit_code == 0, ran.output
    assert json.loads(out.read_text()) == {"words": 12}
    assert ran.output == f"| figure | value |\n| --- | ---: |\n| words | 12 |\nwrote {out}\n"
    printed = runner.invoke(main, ["probe", "run", "words", str(cell), "--set", "scale=4"], catch_exceptions=False)
    assert printed.output == "| figure | value |\n| --- | ---: |\n| words | 12 |\n"  # a table; JSON only with --json
    bad = runner.invoke(main, ["probe", "run", "words", str(cell), "--set", "scale=lots"])
    assert (
        bad.exit_code == 2
        and bad.output == "Error: probes.words.scale: is 'lots', not a whole number; make it a whole number.\n"
    )
    missing = runner.invoke(main, ["probe", "run", "words", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "has no output/ directory" in missing.output


def test_report_table_lists_numeric_leaves():
    from axolotl_packing_bench.probes.registry import report_table

    text = report_table({"effects": {"reliance": {"mean": 0.25, "ci": [0.1, 0.4]}}, "questions": 6, "note": "ok"})
    assert text.splitlines()[2:] == [
        "| effects/reliance/mean | 0.25 |",
        "| effects/reliance/ci | 0.1, 0.4 |",
        "| questions | 6 |",
        "| note | ok |",
    ]
