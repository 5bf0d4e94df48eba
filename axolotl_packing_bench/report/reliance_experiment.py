"""The reliance experiment: train a matrix's cells, probe each model, tabulate and plot.

    python -m axolotl_packing_bench.report.reliance_experiment --matrix recipes/matrices/reliance.yaml

1. `packbench run` trains every cell not yet done (results in
   `<runs-dir>/<matrix>/results.jsonl`, apart from the main leaderboard).
2. The reliance probe runs on each trained model (`<run>/output`), with the
   matrix's `probes: {reliance: {...}}` settings; its JSON is kept beside the
   run (`<run>/reliance.json`) and reused on the next call.
3. One line per cell goes to `leaderboard/<matrix>.jsonl` (axes, packing,
   relatedness, training loss, reliance), rendered as `leaderboard/<matrix>.md`
   and plotted as `leaderboard/<matrix>.png` (needs matplotlib, the `plot` extra).

`packbench run` also runs the probes a matrix's `probes:` section names on
each trained cell (`running.follow_up`); this module is how the committed
figures were made.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from axolotl_packing_bench.constants import RELIANCE_DATA, SEED_AXIS
from axolotl_packing_bench.matrix.spec import strategy_sort_key
from axolotl_packing_bench.probes.reliance import EFFECTS, PROBE_VERSION
from axolotl_packing_bench.probes.reliance_entry import SETTINGS

EFFECT_TITLES = {
    "reliance": "reliance: loss(none) - loss(related)",
    "distraction": "distraction: loss(conflicting) - loss(none)",
    "unrelated": "unrelated: loss(unrelated) - loss(none)",
    "few_shot": "few-shot gain: loss(0-shot) - loss(3-shot)",
    "fact_use": "fact use: loss(conflicting) - loss(related)",
}
PROBE_KEYS = tuple(SETTINGS)
"""The keys of a matrix's `probes.reliance` section: the probe's own settings schema."""


def probe_settings(matrix: Any) -> dict[str, Any]:
    """`probes.reliance` of a matrix, checked; data defaults to the embedded held-out split.

    Its `when:` is not a setting of the probe: `probed_cells` applies it (the matrix keeps it parsed)."""
    from axolotl_packing_bench.matrix.spec import probe_settings as settings_of_each_probe

    section = settings_of_each_probe(matrix).get("reliance") or {}
    unknown = sorted(set(section) - set(PROBE_KEYS))
    if unknown:
        raise ValueError(f"probes.reliance: unknown key(s) {', '.join(unknown)}; use {', '.join(PROBE_KEYS)}")
    return {"data": RELIANCE_DATA, **section}


def probed_cells(matrix: Any, cells: Sequence[Any]) -> list[Any]:
    """The cells the reliance probe runs on: those its `when:` names, else every cell."""
    from axolotl_packing_bench.matrix.spec import matches

    when = matrix.probe_when.get("reliance")
    return [cell for cell in cells if when is None or matches(when, cell.axes)]


def train(matrix_path: Path, runs_dir: Path, results: Path, jobs: int) -> int:
    """`packbench run` on the matrix; returns its exit status."""
    command = [
        sys.executable,
        "-c",
        "from axolotl_packing_bench.cli import main; main()",
        "run",
        "--matrix",
        str(matrix_path),
        "--jobs",
        str(jobs),
        "--runs-dir",
        str(runs_dir),
        "--results",
        str(results),
        "--leaderboard",
        str(results.with_suffix(".md")),
    ]
    return subprocess.call(command)


def probe_cells(
    cells: Sequence[Any],
    runs_dir: Path,
    settings: Mapping[str, Any],
    *,
    force: bool = False,
    results: Mapping[str, Any] | None = None,
) -> dict[str, dict]:
    """The reliance result of each cell: the one the run recorded (the matrix's `probes:` section ran it
    after training), else one computed now and cached beside the run."""
    from axolotl_packing_bench.matrix.recipe import cell_run_dir
    from axolotl_packing_bench.probes.reliance import run_reliance_probe

    options = {key: value for key, value in settings.items() if key != "data"}
    found: dict[str, dict] = {}
    for cell in cells:
        recorded = results[cell.cell_id].metric("reliance") if results and cell.cell_id in results else None
        if isinstance(recorded, Mapping) and recorded.get("version") == PROBE_VERSION and not force:
            found[cell.cell_id] = dict(recorded)
            continue
        run_dir = cell_run_dir(runs_dir, cell)
        cached = run_dir / "reliance.json"
        model = run_dir / "output"
        if cached.exists() and not force:
            result = json.loads(cached.read_text(encoding="utf-8"))
            if result.get("version") == PROBE_VERSION:
                found[cell.cell_id] = result
                continue
        if not (model / "config.json").exists():
            print(f"probe: skip {cell.cell_id} (no trained model in {model})", file=sys.stderr)
            continue
        print(f"probe: {cell.cell_id}", file=sys.stderr, flush=True)
        result = run_reliance_probe(model, settings["data"], **options)
        cached.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        found[cell.cell_id] = result
    return found


def probe_base(
    cells: Sequence[Any], runs_dir: Path, settings: Mapping[str, Any], *, force: bool = False
) -> dict | None:
    """The positive control: the same probe on the base model the cells fine-tune, before any fine-tuning."""
    from axolotl_packing_bench.assets import resolve_asset_uri
    from axolotl_packing_bench.probes.reliance import run_reliance_probe

    bases = {str(cell.config.get("base_model")) for cell in cells}
    if len(bases) != 1:
        return None
    base = bases.pop()
    cached = runs_dir / cells[0].matrix / "base-reliance.json"
    if cached.exists() and not force:
        result = json.loads(cached.read_text(encoding="utf-8"))
        if result.get("version") == PROBE_VERSION and result.get("base_model") == base:
            return result
    print(f"probe: base model {base} (positive control)", file=sys.stderr, flush=True)
    options = {key: value for key, value in settings.items() if key != "data"}
    result = {"base_model": base, **run_reliance_probe(resolve_asset_uri(base), settings["data"], **options)}
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def collect(cells: Sequence[Any], results: Mapping[str, Any], probes: Mapping[str, dict]) -> list[dict[str, Any]]:
    """One row per cell: its axes, packing and relatedness figures, training loss and reliance."""
    rows = []
    for cell in cells:
        result = results.get(cell.cell_id)
        metrics = result.metrics if result is not None else {}
        packing = metrics.get("packing") or {}
        training = metrics.get("training") or {}
        rows.append(
            {
                "cell_id": cell.cell_id,
                "axes": dict(cell.axes),
                "status": result.status if result is not None else "not run",
                "efficiency": packing.get("efficiency"),
                "relatedness": packing.get("relatedness"),
                "final_train_loss": training.get("final_train_loss"),
                "mean_train_loss": training.get("mean_train_loss"),
                "runtime_s": training.get("runtime_s"),
                "heldout_loss": (metrics.get("heldout") or {}).get("loss"),
                "reliance": probes.get(cell.cell_id),
            }
        )
    return rows


# ---------------------------------------------------------------- tables


def _mean(values: Sequence[float]) -> float | None:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def _sd(values: Sequence[float]) -> float | None:
    values = [v for v in values if v is not None]
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def effect(row: Mapping[str, Any], name: str, metric: str = "answer_loss") -> dict | None:
    reliance = row.get("reliance") or {}
    return (reliance.get("effects") or {}).get(name, {}).get(metric)


def _f(value: float | None, digits: int = 3, sign: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def _ci(figure: Mapping[str, Any] | None) -> str:
    if not figure:
        return "—"
    low, high = figure["ci"]
    star = "" if figure["ci_includes_zero"] else "*"
    return f"{figure['mean']:+.3f} [{low:+.3f}, {high:+.3f}]{star}"


def groups_of(rows: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], list[Mapping[str, Any]]]:
    grouped: dict[tuple[str, str], list] = defaultdict(list)
    for row in rows:
        if row.get("reliance"):
            grouped[(row["axes"]["strategy"], row["axes"]["attention"])].append(row)
    return dict(grouped)


def seed_noise(rows: Sequence[Mapping[str, Any]], name: str) -> float | None:
    """Pooled standard deviation across seeds of an effect, within each strategy x attention."""
    squares, dof = 0.0, 0
    for members in groups_of(rows).values():
        values = [effect(m, name)["mean"] for m in members if effect(m, name)]
        if len(values) >= 2:
            mean = sum(values) / len(values)
            squares += sum((v - mean) ** 2 for v in values)
            dof += len(values) - 1
    return math.sqrt(squares / dof) if dof else None


REFERENCE_STRATEGY = "bfd"


def _estimate(estimate: Any, digits: int = 3) -> str:
    return "—" if estimate is None else estimate.text(digits)


def _by_seed(members: Sequence[Mapping[str, Any]], name: str) -> dict[str, float]:
    return {str(m["axes"].get(SEED_AXIS)): effect(m, name)["mean"] for m in members if effect(m, name)}


def seed_differences(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Markdown: each strategy minus bfd, and shared minus isolated, per effect, paired by seed with 95% intervals."""
    from axolotl_packing_bench.core.intervals import difference_interval

    grouped = groups_of(rows)
    strategies = sorted({s for s, _ in grouped if s != REFERENCE_STRATEGY})
    attentions = [a for a in ("isolated", "shared") if any(key[1] == a for key in grouped)]
    lines = [
        "| effect | attention | " + " | ".join(f"{s} − {REFERENCE_STRATEGY}" for s in strategies) + " |",
        "| --- | --- |" + " ---: |" * len(strategies),
    ]
    for name in EFFECTS:
        for attention in attentions:
            reference = _by_seed(grouped.get((REFERENCE_STRATEGY, attention), []), name)
            cells = []
            for strategy in strategies:
                values = _by_seed(grouped.get((strategy, attention), []), name)
                cells.append(_estimate(difference_interval(values, reference)) if values and reference else "—")
            lines.append(f"| {name} | {attention} | " + " | ".join(cells) + " |")
    if len(attentions) == 2:
        all_strategies = sorted({s for s, _ in grouped})
        lines += [
            "",
            "| effect | " + " | ".join(f"{s}: shared − isolated" for s in all_strategies) + " |",
            "| --- |" + " ---: |" * len(all_strategies),
        ]
        for name in EFFECTS:
            cells = []
            for strategy in all_strategies:
                shared = _by_seed(grouped.get((strategy, "shared"), []), name)
                isolated = _by_seed(grouped.get((strategy, "isolated"), []), name)
                cells.append(_estimate(difference_interval(shared, isolated)) if shared and isolated else "—")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def positive_control(base: Mapping[str, Any] | None) -> list[str]:
    """Markdown: the probe on the base before fine-tuning, which must read a stated fact."""
    if not base:
        return []
    conditions = base.get("conditions") or {}
    em = " / ".join(_f((conditions.get(c) or {}).get("exact_match"), 2) for c in ("none", "related", "conflicting"))
    followed = (conditions.get("conflicting") or {}).get("names_conflicting_value")
    return [
        "## Positive control: the base before fine-tuning",
        "",
        f"`{base.get('base_model')}`, same probe and questions. A probe that cannot see the base read a stated "
        "fact could not see fine-tuning change it; this one can.",
        "",
        "| reliance | distraction | unrelated | few-shot | fact use | EM none / related / conflicting | "
        "replies naming the conflicting value |",
        "| --- | --- | --- | --- | --- | --- | ---: |",
        "| "
        + " | ".join(_ci((base.get("effects") or {}).get(name, {}).get("answer_loss")) for name in EFFECTS)
        + f" | {em} | {_f(followed, 2)} |",
        "",
    ]


def render_markdown(
    rows: Sequence[Mapping[str, Any]],
    *,
    title: str,
    settings: Mapping[str, Any],
    reading: str | None = None,
    base: Mapping[str, Any] | None = None,
) -> str:
    probed = [row for row in rows if row.get("reliance")]
    first = probed[0]["reliance"] if probed else {}
    lines = [
        f"# {title}",
        "",
        (
            "Rendered by `python -m axolotl_packing_bench.report.reliance_experiment` from "
            f"`{title}.jsonl`. Answer-loss effects are in nats per answer token, mean over "
            f"{first.get('questions', '?')} held-out questions with a {int(100 * first.get('confidence', 0.95))}% "
            f"paired-bootstrap interval ({first.get('bootstrap', '?')} resamples); `*` marks an interval that "
            "excludes 0. Positive = related context helps / a conflicting context misleads / an unrelated "
            "context hurts / examples help / the stated value is preferred (`fact use` = loss(conflicting) - "
            "loss(related), the two passages differing in one word). "
            "`same-group adj.` is the share of adjacent segments from one topic "
            "(chance in brackets)."
        ),
        "",
        *positive_control(base),
        "## Per strategy x attention (mean over seeds; ± is the seed standard deviation)",
        "",
        (
            "| strategy | attention | seeds | same-group adj. | held-out loss | train loss | reliance | distraction "
            "| unrelated | few-shot | fact use | disregards context |"
        ),
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for (strategy, attention), members in sorted(groups_of(rows).items(), key=lambda kv: (kv[0][1], kv[0][0])):
        cells = []
        for name in EFFECTS:
            values = [effect(m, name)["mean"] for m in members if effect(m, name)]
            mean, sd = _mean(values), _sd(values)
            cells.append("—" if mean is None else f"{mean:+.3f}" + (f" ± {sd:.3f}" if sd is not None else ""))
        adjacency = _mean([(m.get("relatedness") or {}).get("same_group_adjacent") for m in members])
        chance = _mean([(m.get("relatedness") or {}).get("chance_same_group") for m in members])
        loss = _mean([m.get("final_train_loss") for m in members])
        heldout = _mean([m.get("heldout_loss") for m in members])
        disregard = sum(1 for m in members if (m.get("reliance") or {}).get("disregards_context"))
        lines.append(
            f"| {strategy} | {attention} | {len(members)} | {_f(adjacency, 2)} ({_f(chance, 2)}) | "
            f"{_f(heldout, 4)} | {_f(loss, 3)} | " + " | ".join(cells) + f" | {disregard} of {len(members)} |"
        )
    noise = {name: seed_noise(rows, name) for name in EFFECTS}
    lines += [
        "",
        "Seed noise (pooled SD of each effect across seeds, same strategy and attention): "
        + ", ".join(f"{name} {_f(value, 4)}" for name, value in noise.items())
        + ".",
        "",
    ]
    lines += [
        "## Differences beyond seed noise",
        "",
        f"Each strategy minus {REFERENCE_STRATEGY} (same attention), and shared minus isolated (same "
        "strategy), paired by seed: mean ± half-width of the 95% Student-t interval over seeds; `*` where "
        "it excludes 0.",
        "",
        *seed_differences(rows),
        "",
    ]
    lines += [
        "## Every cell",
        "",
        (
            "| strategy | attention | seed | efficiency | same-group adj. | within-row sim. | train loss | "
            "reliance | distraction | unrelated | few-shot | fact use | EM none / related / conflicting |"
        ),
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | --- | --- | --- |",
    ]
    for row in sorted(
        rows, key=lambda r: (r["axes"]["attention"], r["axes"]["strategy"], str(r["axes"].get(SEED_AXIS)))
    ):
        rel = row.get("relatedness") or {}
        conditions = (row.get("reliance") or {}).get("conditions") or {}
        em = " / ".join(_f((conditions.get(c) or {}).get("exact_match"), 2) for c in ("none", "related", "conflicting"))
        lines.append(
            f"| {row['axes']['strategy']} | {row['axes']['attention']} | {row['axes'].get(SEED_AXIS, '—')} | "
            f"{_f(row.get('efficiency'), 4)} | {_f(rel.get('same_group_adjacent'), 2)} | "
            f"{_f(rel.get('within_row_similarity'), 3)} | {_f(row.get('final_train_loss'), 3)} | "
            + " | ".join(_ci(effect(row, name)) for name in EFFECTS)
            + f" | {em} |"
        )
    not_done = [row["cell_id"] for row in rows if not row.get("reliance")]
    if not_done:
        lines += ["", f"Not probed ({len(not_done)}): " + ", ".join(f"`{c}`" for c in not_done)]
    if reading:
        lines += ["", "## Reading", "", reading.strip()]
    lines += ["", f"Probe settings: `{json.dumps(dict(settings), sort_keys=True)}`.", ""]
    return "\n".join(lines)


def plot(rows: Sequence[Mapping[str, Any]], path: Path, *, title: str) -> None:
    """Effects per strategy (bars: mean over seeds; dots: seeds with their intervals), by attention."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grouped = groups_of(rows)
    strategies = sorted({key[0] for key in grouped}, key=strategy_sort_key)
    attentions = [a for a in ("isolated", "shared") if any(key[1] == a for key in grouped)]
    colors = {"isolated": "#4C72B0", "shared": "#DD8452"}
    panels = [*EFFECTS, "relatedness"]
    fig, axes = plt.subplots(2, math.ceil(len(panels) / 2), figsize=(15, 8.5), squeeze=False)
    width = 0.8 / max(len(attentions), 1)
    for ax in axes.ravel()[len(panels) :]:
        ax.axis("off")
    for ax, name in zip(axes.ravel(), panels):
        for j, attention in enumerate(attentions):
            for i, strategy in enumerate(strategies):
                members = grouped.get((strategy, attention), [])
                x = i + (j - (len(attentions) - 1) / 2) * width
                if name == "relatedness":
                    values = [(m.get("relatedness") or {}).get("same_group_adjacent") for m in members]
                    values = [v for v in values if v is not None]
                    if values:
                        ax.bar(
                            x,
                            sum(values) / len(values),
                            width,
                            color=colors.get(attention),
                            alpha=0.6,
                            label=attention if i == 0 else None,
                        )
                        ax.scatter([x] * len(values), values, color="black", s=10, zorder=3)
                    continue
                figures = [effect(m, name) for m in members if effect(m, name)]
                if not figures:
                    continue
                means = [f["mean"] for f in figures]
                ax.bar(
                    x,
                    sum(means) / len(means),
                    width,
                    color=colors.get(attention),
                    alpha=0.6,
                    label=attention if i == 0 else None,
                )
                offsets = [x + (k - (len(figures) - 1) / 2) * width / (len(figures) + 1) for k in range(len(figures))]
                ax.errorbar(
                    offsets,
                    means,
                    yerr=[[f["mean"] - f["ci"][0] for f in figures], [f["ci"][1] - f["mean"] for f in figures]],
                    fmt="o",
                    color="black",
                    ms=3,
                    capsize=2,
                    lw=0.8,
                    zorder=3,
                )
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xticks(range(len(strategies)), strategies)
        ax.set_title(
            "same-topic share of adjacent segments" if name == "relatedness" else EFFECT_TITLES[name], fontsize=10
        )
        ax.set_ylabel("share" if name == "relatedness" else "nats / answer token")
    fig.suptitle(
        f"{title}: context-reliance probe per packing strategy "
        "(bars: mean over seeds; dots: seeds with 95% paired-bootstrap CI)",
        fontsize=11,
    )
    # one legend below the panels: inside them it covered bars (the few-shot panel's bars reach its top)
    handles, labels = axes.ravel()[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=len(handles), fontsize=9, title="attention")
    fig.tight_layout(rect=(0, 0.06 if handles else 0, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", type=Path, required=True)
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"))
    parser.add_argument("--out-dir", type=Path, default=Path("leaderboard"))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-train", action="store_true", help="Only probe and render what is trained.")
    parser.add_argument("--force-probe", action="store_true", help="Probe again even if a result is cached.")
    parser.add_argument("--reading", type=Path, default=None, help="Markdown file with the written reading.")
    args = parser.parse_args(argv)

    from axolotl_packing_bench.matrix.spec import expand, load_matrix
    from axolotl_packing_bench.results.store import latest_per_cell, read_results

    matrix = load_matrix(args.matrix)
    cells = probed_cells(matrix, expand(matrix))
    settings = probe_settings(matrix)
    results_path = args.runs_dir / matrix.name / "results.jsonl"
    results_path.parent.mkdir(parents=True, exist_ok=True)
    if not args.no_train:
        status = train(args.matrix, args.runs_dir, results_path, args.jobs)
        if status not in (0, 1):
            return status
    results = {}
    if results_path.exists():
        results = {cell_id: result for (_, cell_id), result in latest_per_cell(read_results(results_path)).items()}
    probes = probe_cells(cells, args.runs_dir, settings, force=args.force_probe, results=results)
    base = probe_base(cells, args.runs_dir, settings, force=args.force_probe)
    rows = collect(cells, results, probes)
    out = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{matrix.name}.jsonl").write_text(
        "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows), encoding="utf-8"
    )
    reading = args.reading.read_text(encoding="utf-8") if args.reading else None
    (out / f"{matrix.name}.md").write_text(
        render_markdown(rows, title=matrix.name, settings=settings, reading=reading, base=base), encoding="utf-8"
    )
    if base is not None:
        (out / f"{matrix.name}-base.json").write_text(
            json.dumps(base, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
    plot(rows, out / f"{matrix.name}.png", title=matrix.name)
    print(f"wrote {out / (matrix.name + '.md')}, {out / (matrix.name + '.png')}, {out / (matrix.name + '.jsonl')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
