"""`relatedness_report` on constructed plans, and groups from fields and text."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import pytest
from scipy import sparse

from axolotl_packing_bench.packing import pack
from axolotl_packing_bench.plugin.relatedness import (
    compute_groups,
    embedding_vectors,
    group_field,
    groups_for_rows,
    groups_from_field,
    relatedness_report,
    sample_text,
    token_tfidf_vectors,
)


@pytest.fixture
def two_rows():
    plan = pack([1, 1, 1, 1], 2, "sequential")  # rows [0 1] [2 3]
    assert [plan.segments(b)[0].tolist() for b in range(2)] == [[0, 1], [2, 3]]
    return plan


class TestReport:
    def test_same_group_indicator(self, two_rows):
        report = relatedness_report(two_rows, ["A", "A", "A", "B"])
        assert report["same_group_adjacent"] == 0.5  # (0,1) same, (2,3) not
        assert report["within_row_similarity"] == 0.5
        assert report["similarity_from"] == "groups"
        assert report["chance_same_group"] == 0.5  # 3 same-group pairs of 6
        assert report["mean_groups_per_row"] == 1.5
        assert (report["adjacent_pairs"], report["row_pairs"], report["groups"]) == (2, 2, 2)

    def test_cosine_of_vectors(self, two_rows):
        vectors = np.array([[1.0, 0.0], [2.0, 0.0], [1.0, 0.0], [1.0, 1.0]])  # norms do not matter
        report = relatedness_report(two_rows, ["A", "A", "A", "B"], vectors)
        assert report["within_row_similarity"] == pytest.approx((1 + 1 / math.sqrt(2)) / 2, abs=1e-6)
        # every pair of the four: 3 pairs among the first three (1 each), 3 with the last (1/sqrt 2)
        assert report["chance_similarity"] == pytest.approx((3 + 3 / math.sqrt(2)) / 6, abs=1e-6)
        assert report["similarity_from"] == "vectors"
        same = relatedness_report(two_rows, ["A", "A", "A", "B"], sparse.csr_matrix(vectors))
        assert same == report

    def test_all_pairs_in_a_row_count(self):
        plan = pack([1, 1, 1], 3, "sequential")  # one row: 3 pairs, 2 of them adjacent
        report = relatedness_report(plan, [0, 1, 0])
        assert report["same_group_adjacent"] == 0.0
        assert report["within_row_similarity"] == pytest.approx(1 / 3, abs=1e-6)

    def test_padding_has_no_pairs(self):
        report = relatedness_report(pack([3, 4], 8, "padding"), [0, 0])
        assert report["same_group_adjacent"] is None and report["within_row_similarity"] is None
        assert report["chance_same_group"] == 1.0

    def test_wrong_number_of_labels(self, two_rows):
        with pytest.raises(ValueError, match="one label per sample"):
            relatedness_report(two_rows, [0, 1])


class TestGroups:
    rows: ClassVar[list[dict]] = [
        {"messages": [{"role": "user", "content": "apple pear plum"}], "topic": "fruit", "tags": ["a", "b"]},
        {"messages": [{"role": "user", "content": "pear plum apple fig"}], "topic": "fruit", "tags": ["a"]},
        {"messages": [{"role": "user", "content": "car bus train"}], "topic": "travel"},
        {"messages": [{"role": "user", "content": "bus train tram car"}], "topic": "travel"},
    ]

    def test_field_first_present_in_every_row(self):
        assert group_field(self.rows) == "topic"
        assert group_field(self.rows, ["tags", "category"]) is None  # not every row has tags
        assert groups_from_field(self.rows, "topic").tolist() == [0, 0, 1, 1]
        assert groups_from_field(self.rows[:2], "tags").tolist() == [0, 0]  # a list: its first tag

    def test_missing_field(self):
        with pytest.raises(ValueError, match="row 2 .* has no 'tags'"):
            groups_from_field(self.rows, "tags")

    def test_text_leaves_out_roles_and_group_fields(self):
        assert sample_text(self.rows[0]) == "apple pear plum"

    def test_tfidf_clusters_recover_topics(self):
        groups = compute_groups([sample_text(row) for row in self.rows], k=2, seed=0)
        labels = groups.labels.tolist()
        assert labels[0] == labels[1] != labels[2] == labels[3]
        assert groups.method == "tfidf" and groups.vectors.shape[0] == 4

    def test_rows_use_the_field_when_there_is_one(self):
        groups = groups_for_rows(self.rows)
        assert groups.method == "field:topic" and groups.labels.tolist() == [0, 0, 1, 1]
        assert groups_for_rows(self.rows, fields=None, k=2).method == "tfidf"

    def test_token_tfidf(self):
        ids = np.array([5, 6, 7, 5, 6, 8, 9, 8, 9], dtype=np.int64)
        vectors = token_tfidf_vectors(ids, np.array([0, 3, 6, 9]), ignore=[7])
        similarity = (vectors @ vectors.T).toarray()
        assert similarity[0, 1] > similarity[0, 2] == 0.0
        assert np.allclose(np.diag(similarity), 1.0)

    def test_embedding_needs_a_local_model(self, tmp_path):
        with pytest.raises(ValueError, match="not a local model directory"):
            embedding_vectors(["x"], tmp_path / "nowhere")
        with pytest.raises(ValueError, match="needs a local embedding model"):
            compute_groups(["x"], method="embedding")

    def test_embedding_from_a_local_transformers_model(self):
        from axolotl_packing_bench.assets import ensure_model

        vectors = embedding_vectors(["The river of Belmora.", "A banner."], ensure_model("tiny-8b-init"))
        assert vectors.shape[0] == 2
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
