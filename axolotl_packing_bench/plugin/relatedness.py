"""Which samples are related, and how related the packs of a plan really are.

A sample's group (its topic) comes from a dataset field when there is one
(`topic`, `category`, `tags`, `source`, in that order of preference), or is
computed: TF-IDF vectors of the sample's text clustered into `k` groups with
k-means (seeded), or, when a local embedding model is given, its sentence
embeddings clustered the same way. The packing strategies `related` and
`unrelated` take the groups as `groups=`; `relatedness_report` measures any
plan against them:

    >>> groups = compute_groups(texts, k=16, seed=0)
    >>> plan = pack(lengths, 4096, "related", groups=groups.labels)
    >>> relatedness_report(plan, groups.labels, groups.vectors)
    {'same_group_adjacent': 0.91, 'within_row_similarity': 0.34, ...}

Needs scikit-learn (and scipy, which it brings); the packing library itself
stays numpy + numba only.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from axolotl_packing_bench.constants import DEFAULT_GROUPS_K

DEFAULT_GROUP_FIELDS: tuple[str, ...] = ("topic", "category", "tags", "source")
"""Dataset fields read as a sample's group, first present wins."""

GROUP_METHODS: tuple[str, ...] = ("tfidf", "embedding")
"""How groups are computed when no field gives them."""

DEFAULT_K = DEFAULT_GROUPS_K
KMEANS_EXACT_MAX = 10_000  # above this many samples, MiniBatchKMeans
_SKIPPED_TEXT_KEYS = frozenset({"id", "role", "from", *DEFAULT_GROUP_FIELDS})


@dataclass(frozen=True, eq=False)
class SampleGroups:
    """One group label per sample, and the vectors they were clustered from.

    Attributes:
        labels: int64 group of each sample, 0..k-1.
        vectors: L2-normalized sample vectors (scipy CSR for TF-IDF, dense
            for embeddings), or None when the groups came from a field.
        method: "field:<name>", "tfidf" or "embedding".
    """

    labels: np.ndarray
    vectors: Any
    method: str

    @property
    def num_groups(self) -> int:
        return int(np.unique(self.labels).shape[0])


# ---------------------------------------------------------------- groups from fields


def group_field(rows: Sequence[Mapping[str, Any]], fields: Iterable[str] = DEFAULT_GROUP_FIELDS) -> str | None:
    """The first of `fields` that every row has (non-empty), or None."""
    for name in fields:
        if rows and all(_present(row.get(name)) for row in rows):
            return name
    return None


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != []


def _label(value: Any) -> str:
    # a list of tags: its first tag is the sample's group
    if isinstance(value, (list, tuple)):
        value = value[0] if value else ""
    return str(value)


def groups_from_field(rows: Sequence[Mapping[str, Any]], field: str) -> np.ndarray:
    """int64 group codes from one field of each row (a list field: its first item).

    Raises:
        ValueError: a row lacks the field.
    """
    missing = [i for i, row in enumerate(rows) if not _present(row.get(field))]
    if missing:
        raise ValueError(
            f"row {missing[0]} (and {len(missing) - 1} more) has no {field!r} field; "
            "give every row one, or compute groups from text (leave the field unset)."
        )
    _, codes = np.unique(np.array([_label(row[field]) for row in rows], dtype=object).astype(str), return_inverse=True)
    return codes.astype(np.int64).reshape(-1)


def sample_text(row: Mapping[str, Any]) -> str:
    """The text of a dataset row: its string values, in order, ids and group fields left out.

    Works for OpenAI `messages`, ShareGPT `conversations`, Alpaca
    `instruction`/`input`/`output` and plain `text` rows alike.
    """
    parts: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, Mapping):
            for key, item in value.items():
                if key not in _SKIPPED_TEXT_KEYS:
                    walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(row)
    return "\n".join(part for part in parts if part)


# ---------------------------------------------------------------- vectors


def tfidf_vectors(texts: Sequence[str], *, max_features: int | None = 50_000):
    """L2-normalized TF-IDF vectors of `texts` (scipy CSR), sublinear term frequency."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    if not texts:
        from scipy import sparse

        return sparse.csr_matrix((0, 0))
    vectorizer = TfidfVectorizer(sublinear_tf=True, max_features=max_features, token_pattern=r"(?u)\b\w+\b")
    try:
        return vectorizer.fit_transform(texts).tocsr()
    except ValueError:  # every text empty: no vocabulary
        from scipy import sparse

        return sparse.csr_matrix((len(texts), 1))


def token_tfidf_vectors(input_ids: np.ndarray, offsets: np.ndarray, *, ignore: Iterable[int] = ()):
    """L2-normalized TF-IDF vectors of tokenized samples, token ids as terms.

    Needs no tokenizer and no decoding, so it works on any tokenized dataset
    (Axolotl's, after its own chat template). Template tokens shared by every
    sample get a low IDF and matter little; `ignore` drops ids entirely.

    Args:
        input_ids: all samples' token ids, concatenated.
        offsets: CSR offsets, sample `i` is `input_ids[offsets[i]:offsets[i + 1]]`.
        ignore: token ids left out (e.g. padding).
    """
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfTransformer

    ids = np.asarray(input_ids, dtype=np.int64)
    offsets = np.asarray(offsets, dtype=np.int64)
    n = offsets.shape[0] - 1
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))
    ignored = np.fromiter(ignore, dtype=np.int64)
    if ignored.size:
        keep = ~np.isin(ids, ignored)
        ids, rows = ids[keep], rows[keep]
    width = int(ids.max()) + 1 if ids.size else 1
    counts = sparse.csr_matrix((np.ones(ids.shape[0], dtype=np.float64), (rows, ids)), shape=(n, width))
    counts.sum_duplicates()
    return TfidfTransformer(sublinear_tf=True).fit_transform(counts).tocsr()


def embedding_vectors(texts: Sequence[str], model_dir: str | os.PathLike, *, batch_size: int = 32) -> np.ndarray:
    """L2-normalized sentence embeddings from a LOCAL model directory (never downloads).

    A sentence-transformers directory is used through `sentence_transformers`
    when it is installed; any other transformers model directory gives the
    mean of its last hidden states over the tokens.

    Raises:
        ValueError: `model_dir` is not a local directory with a model in it.
    """
    path = Path(model_dir).expanduser()
    if not path.is_dir() or not ((path / "config.json").exists() or (path / "modules.json").exists()):
        raise ValueError(
            f"embedding model {str(model_dir)!r} is not a local model directory (no config.json or modules.json); "
            "pass the path of a downloaded sentence-transformers model, or use method='tfidf'."
        )
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    if (path / "modules.json").exists():
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            pass
        else:
            model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
            vectors = model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True)
            return np.asarray(vectors, dtype=np.float32)
    return _mean_pooled(texts, path, batch_size)


def _mean_pooled(texts: Sequence[str], path: Path, batch_size: int) -> np.ndarray:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModel.from_pretrained(str(path), local_files_only=True).eval()
    chunks = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(
                list(texts[start : start + batch_size]),
                padding=True,
                truncation=True,
                max_length=512,
                return_tensors="pt",
            )
            hidden = model(**batch).last_hidden_state.float()
            mask = batch["attention_mask"].unsqueeze(-1).float()
            chunks.append((hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0))
    vectors = torch.cat(chunks).numpy()
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)


def cluster(vectors: Any, k: int, *, seed: int = 0) -> np.ndarray:
    """int64 k-means cluster of each row of `vectors` (seeded; at most `k`, at most one per distinct row).

    KMeans up to `KMEANS_EXACT_MAX` rows, MiniBatchKMeans above.
    """
    from sklearn.cluster import KMeans, MiniBatchKMeans

    if k < 1:
        raise ValueError(f"k must be >= 1 (the number of groups), got {k}; e.g. k=16.")
    n = vectors.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    k = min(k, n)
    if k == 1:
        return np.zeros(n, dtype=np.int64)
    if n <= KMEANS_EXACT_MAX:
        model = KMeans(n_clusters=k, n_init=3, random_state=seed)
    else:
        model = MiniBatchKMeans(n_clusters=k, n_init=3, random_state=seed, batch_size=4096)
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():  # fewer distinct rows than k: k-means says so, the labels are fine
        warnings.simplefilter("ignore", ConvergenceWarning)
        labels = model.fit_predict(vectors)
    _, codes = np.unique(labels, return_inverse=True)  # 0..used-1, no gaps
    return codes.astype(np.int64).reshape(-1)


def compute_groups(
    texts: Sequence[str],
    *,
    k: int = DEFAULT_K,
    method: str = "tfidf",
    embedding_model: str | os.PathLike | None = None,
    seed: int = 0,
) -> SampleGroups:
    """Cluster samples by their text into at most `k` groups.

    Args:
        texts: one text per sample.
        k: the number of groups.
        method: "tfidf", or "embedding" (needs `embedding_model`).
        embedding_model: a local sentence-transformers (or transformers) directory.
        seed: k-means seed; same seed, same groups.
    """
    if method not in GROUP_METHODS:
        raise ValueError(f"unknown grouping method {method!r}; choose one of: {', '.join(GROUP_METHODS)}.")
    if method == "embedding":
        if embedding_model is None:
            raise ValueError(
                "grouping by embedding needs a local embedding model; pass embedding_model=<directory of a "
                "sentence-transformers model> (nothing is downloaded), or use method='tfidf'."
            )
        vectors = embedding_vectors(texts, embedding_model)
    else:
        vectors = tfidf_vectors(texts)
    return SampleGroups(cluster(vectors, k, seed=seed), vectors, method)


def groups_for_rows(
    rows: Sequence[Mapping[str, Any]],
    *,
    fields: Iterable[str] | None = DEFAULT_GROUP_FIELDS,
    k: int = DEFAULT_K,
    method: str = "tfidf",
    embedding_model: str | os.PathLike | None = None,
    seed: int = 0,
) -> SampleGroups:
    """Groups of dataset rows: from the first of `fields` they all have, else computed.

    TF-IDF vectors of the rows' text are returned either way (for the
    similarity figure of `relatedness_report`), unless `method` is
    "embedding", whose vectors are returned instead.
    """
    field = group_field(rows, fields) if fields else None
    texts = [sample_text(row) for row in rows]
    if field is None:
        return compute_groups(texts, k=k, method=method, embedding_model=embedding_model, seed=seed)
    vectors = (
        embedding_vectors(texts, embedding_model) if method == "embedding" and embedding_model else tfidf_vectors(texts)
    )
    return SampleGroups(groups_from_field(rows, field), vectors, f"field:{field}")


# ---------------------------------------------------------------- how related a plan is


def _normalized_rows(vectors: Any) -> Any:
    from scipy import sparse

    if sparse.issparse(vectors):
        vectors = sparse.csr_matrix(vectors, dtype=np.float64)
        norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel())
        scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        return sparse.diags(scale) @ vectors
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.ndim != 2:
        raise ValueError(f"vectors must be 2-D (one row per sample), got shape {vectors.shape}.")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def _squared_norms(matrix: Any) -> np.ndarray:
    from scipy import sparse

    if sparse.issparse(matrix):
        return np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel()
    return np.einsum("ij,ij->i", matrix, matrix)


def relatedness_report(plan: Any, groups: object, vectors: Any = None) -> dict[str, Any]:
    """How related the segments that share a row are.

    Args:
        plan: a `PackPlan`.
        groups: one group label per input sample of the plan.
        vectors: optional sample vectors (one row per input sample; dense or
            scipy sparse, e.g. TF-IDF); cosine similarity is taken from them.

    Returns:
        - `same_group_adjacent`: share of adjacent segment pairs (within a
          row) whose samples share a group; None when no row holds two.
        - `within_row_similarity`: mean similarity over every pair of segments
          that share a row (cosine of `vectors`, or 1 for the same group and
          0 otherwise without vectors); None when no row holds two.
        - `similarity_from`: "vectors" or "groups".
        - `chance_same_group`, `chance_similarity`: the same figures for two
          segments drawn at random from the whole plan, the level random
          mixing gives, so `related` should sit above it and `unrelated`
          below.
        - `mean_groups_per_row`: distinct groups per row that holds two or
          more segments.
        - `adjacent_pairs`, `row_pairs`, `groups`: the counts behind them.
    """
    labels = np.asarray(groups)
    if labels.ndim != 1 or labels.shape[0] < plan.num_samples:
        raise ValueError(
            f"groups must hold one label per sample of the plan ({plan.num_samples}), got shape {labels.shape}."
        )
    _, codes = np.unique(labels, return_inverse=True)
    codes = codes.reshape(-1).astype(np.int64)
    offsets = np.asarray(plan.bin_offsets, dtype=np.int64)
    sample = np.asarray(plan.sample_index, dtype=np.int64)
    seg_codes = codes[sample]
    n_seg = sample.shape[0]
    row_of = np.repeat(np.arange(offsets.shape[0] - 1), np.diff(offsets))
    sizes = np.diff(offsets)

    adjacent = row_of[1:] == row_of[:-1] if n_seg > 1 else np.zeros(0, dtype=bool)
    adjacent_pairs = int(adjacent.sum())
    same_adjacent = int((seg_codes[1:] == seg_codes[:-1])[adjacent].sum()) if adjacent_pairs else 0

    row_pairs = int((sizes * (sizes - 1) // 2).sum())
    # per (row, group) counts -> same-group pairs within rows
    if n_seg:
        keys = row_of * (int(codes.max()) + 1) + seg_codes
        _, per_row_group = np.unique(keys, return_counts=True)
        same_row_pairs = int((per_row_group * (per_row_group - 1) // 2).sum())
        distinct = np.bincount(np.unique(keys) // (int(codes.max()) + 1), minlength=sizes.shape[0])
    else:
        same_row_pairs = 0
        distinct = np.zeros(sizes.shape[0], dtype=np.int64)
    group_counts = np.bincount(seg_codes) if n_seg else np.zeros(0, dtype=np.int64)
    all_pairs = n_seg * (n_seg - 1) / 2
    chance_same = float((group_counts * (group_counts - 1) / 2).sum() / all_pairs) if all_pairs else None

    if vectors is not None:
        from scipy import sparse

        if vectors.shape[0] < plan.num_samples:
            raise ValueError(
                f"vectors must hold one row per sample of the plan ({plan.num_samples}), got {vectors.shape[0]} rows."
            )
        unit = _normalized_rows(vectors)[sample]
        membership = sparse.csr_matrix((np.ones(n_seg), (row_of, np.arange(n_seg))), shape=(sizes.shape[0], n_seg))
        row_sums = membership @ unit
        self_terms = _squared_norms(unit)
        pair_sum = float((_squared_norms(row_sums).sum() - self_terms.sum()) / 2)
        total = np.asarray(unit.sum(axis=0)).ravel()
        chance_similarity = float((total @ total - self_terms.sum()) / 2 / all_pairs) if all_pairs else None
        similarity = pair_sum / row_pairs if row_pairs else None
        source = "vectors"
    else:
        similarity = same_row_pairs / row_pairs if row_pairs else None
        chance_similarity = chance_same
        source = "groups"
    multi = sizes >= 2

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(float(value), 6)

    return {
        "same_group_adjacent": rounded(same_adjacent / adjacent_pairs) if adjacent_pairs else None,
        "within_row_similarity": rounded(similarity),
        "similarity_from": source,
        "chance_same_group": rounded(chance_same),
        "chance_similarity": rounded(chance_similarity),
        "mean_groups_per_row": rounded(distinct[multi].mean()) if multi.any() else None,
        "adjacent_pairs": adjacent_pairs,
        "row_pairs": row_pairs,
        "groups": int(np.unique(seg_codes).shape[0]),
    }
