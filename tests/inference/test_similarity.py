"""The one row-wise cosine (`pairwise_cosine`) equals the plain per-pair dot product, on both of its paths."""

from __future__ import annotations

import numpy as np
import pytest

from painter_match.inference.similarity import pairwise_cosine


@pytest.mark.parametrize("grouped", [False, True])
def test_equals_per_pair_loop(grouped: bool) -> None:
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(50, 8)).astype(np.float32)
    first, second = rng.integers(0, 50, 5000), rng.integers(0, 50, 5000)
    if grouped:  # long runs of one image1, as Kaggle's file lists them: the matrix-vector path
        first = np.sort(first)
    got = pairwise_cosine(embeddings, first, second)
    expected = [float(embeddings[i] @ embeddings[j]) for i, j in zip(first, second)]
    assert got.dtype == np.float32
    assert np.allclose(got, expected, atol=1e-5)


def test_shape_errors() -> None:
    with pytest.raises(ValueError, match=r"\[N, D\]"):
        pairwise_cosine(np.zeros(3), np.zeros(1, int), np.zeros(1, int))
    with pytest.raises(ValueError, match="differ in length"):
        pairwise_cosine(np.zeros((3, 2)), np.zeros(2, int), np.zeros(1, int))


@pytest.mark.parametrize("others", [60, 3000])
def test_the_product_path_for_wide_dense_pairs_equals_the_per_pair_loop(
    others: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from painter_match.inference import similarity

    # Several tiles of first rows; 60 of 3000 rows on the second side are copied, all 3000 are read in place.
    monkeypatch.setattr(similarity, "_PRODUCT_TILE_VALUES", 7 * others)
    rng = np.random.default_rng(1)
    embeddings = rng.normal(size=(3000, similarity._PRODUCT_MIN_DIM)).astype(np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    # Kaggle's layout: each first image's pairs together, each meeting many of the others.
    first = np.sort(rng.integers(0, 100, 20_000))
    second = rng.integers(0, others, 20_000)
    out = np.empty(len(first), np.float32)
    assert similarity._product_cosine(embeddings, first, second, out)
    got = pairwise_cosine(embeddings, first, second)
    expected = np.einsum("ij,ij->i", embeddings[first].astype(np.float64), embeddings[second])
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)
    np.testing.assert_array_equal(got, out)


def test_sparse_pairs_among_many_rows_keep_the_gathering_path() -> None:
    from painter_match.inference import similarity

    rng = np.random.default_rng(2)
    embeddings = rng.normal(size=(4000, similarity._PRODUCT_MIN_DIM)).astype(np.float32)
    first, second = rng.integers(0, 4000, 5000), rng.integers(0, 4000, 5000)
    out = np.full(5000, np.nan, np.float32)
    assert not similarity._product_cosine(embeddings, first, second, out)
    assert np.isnan(out).all()
    expected = np.einsum("ij,ij->i", embeddings[first], embeddings[second])
    np.testing.assert_allclose(pairwise_cosine(embeddings, first, second), expected, atol=1e-4)
