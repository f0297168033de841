"""Collection adaptation: centring on the collection's mean, deterministic, order-free, with a fallback."""

from __future__ import annotations

import numpy as np
import pytest

from painter_match.inference.collection import (
    MIN_COLLECTION,
    adapt_to_collection,
    centre_on,
    collection_mean,
)


def _unit_rows(n: int, d: int, seed: int, offset: float = 0.0) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32) + offset
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_mean_is_independent_of_row_order_to_the_last_bit() -> None:
    rows = _unit_rows(500, 64, seed=1, offset=0.3)
    shuffled = rows[np.random.default_rng(2).permutation(len(rows))]
    assert collection_mean(rows).tobytes() == collection_mean(shuffled).tobytes()
    np.testing.assert_allclose(collection_mean(rows), rows.astype(np.float64).mean(axis=0), atol=1e-6)


def test_centring_removes_a_shared_offset_that_dominates_the_cosine() -> None:
    # Two "artists" whose pictures all share one source's offset: raw cosines barely separate them.
    rng = np.random.default_rng(3)
    offset = rng.normal(size=32).astype(np.float32) * 3
    artists = rng.normal(size=(2, 32)).astype(np.float32)
    labels = np.repeat([0, 1], 30)
    rows = offset + artists[labels] * 0.5 + rng.normal(size=(60, 32)).astype(np.float32) * 0.5
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    same = labels[:, None] == labels[None, :]
    raw = rows @ rows.T
    adaptation = adapt_to_collection(rows)
    centred = adaptation.apply(rows)
    cos = centred @ centred.T
    # Different-artist pairs: raw cosines near 1 (the shared offset), centred ones near or below 0.
    assert raw[~same].mean() > 0.8
    assert cos[~same].mean() < 0.0
    assert cos[same & ~np.eye(60, dtype=bool)].mean() > 0.3
    np.testing.assert_allclose(np.linalg.norm(centred, axis=1), 1.0, atol=1e-5)
    assert adaptation.record() == {"method": "centre", "paintings": 60}


def test_small_collections_fall_back_to_no_adaptation_and_say_why() -> None:
    rows = _unit_rows(MIN_COLLECTION - 1, 16, seed=4)
    adaptation = adapt_to_collection(rows)
    assert not adaptation.applied
    assert adaptation.record()["method"] == "none"
    assert "fewer than" in str(adaptation.record()["reason"])
    np.testing.assert_array_equal(adaptation.apply(rows), rows)
    assert adapt_to_collection(_unit_rows(MIN_COLLECTION, 16, seed=4)).applied


def test_none_is_honoured_and_unknown_methods_are_refused() -> None:
    rows = _unit_rows(50, 8, seed=5)
    assert adapt_to_collection(rows, "none").record() == {
        "method": "none",
        "paintings": 50,
        "reason": "not asked for",
    }
    with pytest.raises(ValueError, match="unknown collection adaptation 'mean'"):
        adapt_to_collection(rows, "mean")


def test_a_row_equal_to_the_mean_stays_finite() -> None:
    rows = np.array([[1.0, 0.0], [1.0, 0.0]], np.float32)
    out = centre_on(rows, collection_mean(rows))
    assert np.isfinite(out).all()
