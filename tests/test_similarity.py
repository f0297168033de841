"""Chunked pair similarity equals the plain per-pair dot product."""

from __future__ import annotations

import numpy as np
import pytest

from painter_match.similarity import pair_similarity


def test_chunked_equals_per_pair_loop() -> None:
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(50, 8)).astype(np.float32)
    first, second = rng.integers(0, 50, 1000), rng.integers(0, 50, 1000)
    got = pair_similarity(embeddings, first, second, chunk=7)
    expected = [float(embeddings[i] @ embeddings[j]) for i, j in zip(first, second)]
    assert got.dtype == np.float32
    assert np.allclose(got, expected, atol=1e-5)


def test_shape_errors() -> None:
    with pytest.raises(ValueError, match=r"\[N, D\]"):
        pair_similarity(np.zeros(3), np.zeros(1, int), np.zeros(1, int))
    with pytest.raises(ValueError, match="differ in length"):
        pair_similarity(np.zeros((3, 2)), np.zeros(2, int), np.zeros(1, int))
