"""How boards name a model: its own parameters first, the model it stands for second."""

from __future__ import annotations

from axolotl_packing_bench.matrix.labels import model_labels, model_title


def test_embedded_models_show_parameters_then_the_stand_in():
    assert model_labels("packbench://model/tiny-8b") == ("tiny-8b", "8B")  # the size label stays the stand-in
    assert model_title("tiny-8b", "8B") == "tiny-8b · 0.6M params, stands for 8B"
    assert model_title("tiny-70b", "70B") == "tiny-70b · 1.9M params, stands for 70B"


def test_other_models_keep_name_and_size():
    assert model_title("llama-3-8b", "8B") == "llama-3-8b (8B)"
    assert model_title("tiny-8b", "1.23M") == "tiny-8b (1.23M)"  # a hand run sized by its parameter count
    assert model_title("mine", None) == "mine"
