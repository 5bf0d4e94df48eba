"""The reliance experiment's report: strategy differences over seeds and the positive control."""

from __future__ import annotations

from axolotl_packing_bench.report.reliance_experiment import positive_control, render_markdown, seed_differences


def figure(mean: float, low: float, high: float) -> dict:
    return {"mean": mean, "ci": [low, high], "ci_includes_zero": low <= 0 <= high}


def row(strategy: str, attention: str, seed: int, reliance: float, few_shot: float) -> dict:
    effects = {name: {"answer_loss": figure(0.0, -0.01, 0.01)} for name in ("distraction", "unrelated", "fact_use")}
    effects["reliance"] = {"answer_loss": figure(reliance, reliance - 0.01, reliance + 0.01)}
    effects["few_shot"] = {"answer_loss": figure(few_shot, few_shot - 0.01, few_shot + 0.01)}
    return {
        "cell_id": f"{strategy}-{attention}-{seed}",
        "axes": {"strategy": strategy, "attention": attention, "seed": str(seed)},
        "heldout_loss": 2.0 + 0.01 * seed,
        "final_train_loss": 1.5,
        "relatedness": {"same_group_adjacent": 0.5, "chance_same_group": 0.04},
        "reliance": {
            "effects": effects,
            "conditions": {},
            "disregards_context": reliance < 0.01,
            "questions": 96,
            "confidence": 0.95,
            "bootstrap": 1000,
        },
    }


ROWS = [
    *(row("bfd", "isolated", seed, 0.30 + 0.01 * seed, 0.10) for seed in range(3)),
    *(row("related", "isolated", seed, 0.50 + 0.01 * seed, 0.10 + 0.02 * (seed - 1)) for seed in range(3)),
    *(row("bfd", "shared", seed, 0.31 + 0.01 * seed, 0.12) for seed in range(3)),
    *(row("related", "shared", seed, 0.52, 0.11) for seed in range(3)),
]


def test_differences_from_bfd_are_paired_by_seed_and_starred_only_beyond_noise():
    lines = seed_differences(ROWS)
    reliance = next(line for line in lines if line.startswith("| reliance | isolated |"))
    assert reliance == "| reliance | isolated | +0.200 ±0.000* |"  # the same +0.20 in every seed
    few_shot = next(line for line in lines if line.startswith("| few_shot | isolated |"))
    # related - bfd per seed: -0.02, 0, +0.02 -> mean 0, interval 4.303 * 0.02 / sqrt(3) = 0.050: no star
    assert few_shot == "| few_shot | isolated | +0.000 ±0.050 |"
    second = lines[lines.index("") + 1 :]  # shared - isolated, per strategy
    assert second[0] == "| effect | bfd: shared − isolated | related: shared − isolated |"
    attention = next(line for line in second if line.startswith("| reliance |"))
    # bfd +0.01 in every seed (significant); related +0.02, +0.01, 0.00 (interval ±0.025 includes 0)
    assert attention == "| reliance | +0.010 ±0.000* | +0.010 ±0.025 |"


def test_positive_control_section_lists_the_base_figures():
    base = {
        "base_model": "packbench://model/tiny-8b",
        "effects": {"fact_use": {"answer_loss": figure(0.9, 0.8, 1.0)}},
        "conditions": {
            "none": {"exact_match": 0.05},
            "related": {"exact_match": 0.8},
            "conflicting": {"exact_match": 0.0, "names_conflicting_value": 0.7},
        },
    }
    text = "\n".join(positive_control(base))
    assert "packbench://model/tiny-8b" in text and "+0.900 [+0.800, +1.000]*" in text
    assert "0.05 / 0.80 / 0.00" in text and "| 0.70 |" in text
    assert positive_control(None) == []


def test_report_has_heldout_loss_disregard_counts_and_the_differences():
    text = render_markdown(ROWS, title="reliance", settings={"k": 3})
    assert "## Differences beyond seed noise" in text
    line = next(line for line in text.splitlines() if line.startswith("| bfd | isolated | 3 |"))
    assert "| 2.0100 |" in line and line.endswith("| 0 of 3 |")


def test_probe_when_limits_the_report_to_the_cells_it_names():
    """A matrix whose reliance probe has `when:` (paper-toy-shared: the 520-chat cells) is accepted, and the
    report probes only those cells."""
    from pathlib import Path

    from axolotl_packing_bench.matrix.spec import expand, load_matrix
    from axolotl_packing_bench.report.reliance_experiment import probe_settings, probed_cells

    matrix = load_matrix(Path(__file__).parents[2] / "recipes" / "matrices" / "paper-toy-shared.yaml")
    settings = probe_settings(matrix)
    assert "when" not in settings and settings["k"] == 3
    cells = expand(matrix)
    probed = probed_cells(matrix, cells)
    assert len(cells) == 168 and len(probed) == 42
    assert {cell.axes["dataset"] for cell in probed} == {"synth-1.2m-toy"}
