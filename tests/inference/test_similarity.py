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
