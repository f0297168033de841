"""A policy that centres each part of a joined embedding by its own share of the collection's mean:
what is subtracted, that it stays order-free, that it is recorded, read back and checked against
the embedding's length, and that older policies subtract the whole mean."""

from __future__ import annotations

import numpy as np
import pytest

from painter_match.inference.calibration import Calibration
from painter_match.inference.collection import (
    CollectionPolicy,
    adapt_for_model,
    adapt_to_collection,
    centre_on,
    collection_mean,
)

_CALIBRATION = Calibration(slope=1.7, intercept=-1.6, threshold=1.6 / 1.7, positive_share=0.5, pairs=100)
_WEIGHTS = ((6, 1.0), (10, 0.5))


def _rows(n: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n, 16)).astype(np.float32) + 0.4
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _policy(weights: tuple[tuple[int, float], ...] = _WEIGHTS) -> CollectionPolicy:
    return CollectionPolicy("centre", 20, _CALIBRATION, "collection", weights)


def test_each_part_has_its_share_of_the_mean_subtracted() -> None:
    rows = _rows(60, seed=1)
    adaptation, _ = adapt_for_model(rows, _policy(), _CALIBRATION)
    mean = collection_mean(rows)
    np.testing.assert_array_equal(adaptation.mean[:6], mean[:6])
    np.testing.assert_allclose(adaptation.mean[6:], 0.5 * mean[6:], rtol=1e-6)
    expected = centre_on(rows, np.concatenate([mean[:6], 0.5 * mean[6:]]))
    np.testing.assert_allclose(adaptation.apply(rows), expected, atol=1e-6)
    # Half the mean left in the second part: its rows still share a direction there, not in the first.
    shifted = rows - adaptation.mean
    first, second = shifted[:, :6].mean(axis=0), shifted[:, 6:].mean(axis=0)
    assert np.linalg.norm(first) < 1e-6 and np.linalg.norm(second) > 0.1


def test_weighted_centring_is_order_free_to_the_last_bit_and_recorded() -> None:
    rows = _rows(80, seed=2)
    shuffled = rows[np.random.default_rng(3).permutation(len(rows))]
    one, calibration = adapt_for_model(rows, _policy(), _CALIBRATION)
    other, calibration_shuffled = adapt_for_model(shuffled, _policy(), _CALIBRATION)
    assert one.mean.tobytes() == other.mean.tobytes() and calibration == calibration_shuffled
    record = one.record()
    assert record["method"] == "centre" and record["centre_weights"] == [[6, 1.0], [10, 0.5]]
    assert record["units"] == "collection"


def test_policies_round_trip_their_weights_and_older_ones_subtract_the_whole_mean() -> None:
    policy = _policy()
    document = policy.to_dict()
    assert document["centre_weights"] == [[6, 1.0], [10, 0.5]]
    assert CollectionPolicy.from_dict(document) == policy
    older = {key: value for key, value in document.items() if key != "centre_weights"}
    read = CollectionPolicy.from_dict(older)
    assert read.centre_weights == ()
    assert "centre_weights" not in read.to_dict()
    rows = _rows(40, seed=4)
    adaptation, _ = adapt_for_model(rows, read, _CALIBRATION)
    assert adaptation.mean.tobytes() == collection_mean(rows).tobytes()
    assert "centre_weights" not in adaptation.record()


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([], "non-empty list"),
        ([[6, 1.0, 3]], r"\[count, weight\]"),
        ([[0, 1.0]], "whole number from 1"),
        ([[6, 1.5]], "from 0 to 1"),
        ([[6, True]], "from 0 to 1"),
        ("half", "non-empty list"),
    ],
)
def test_bad_weights_in_metadata_are_refused_naming_the_field(weights: object, message: str) -> None:
    document = _policy().to_dict()
    document["centre_weights"] = weights
    with pytest.raises(ValueError, match=message):
        CollectionPolicy.from_dict(document)


def test_weights_that_do_not_cover_the_embedding_are_refused_with_what_to_do() -> None:
    rows = _rows(40, seed=5)
    with pytest.raises(ValueError, match="cover 12 dimensions but its embeddings have 16; re-export"):
        adapt_to_collection(rows, "centre", centre_weights=((6, 1.0), (6, 0.5)))


def test_small_collections_and_none_ignore_the_weights() -> None:
    adaptation, calibration = adapt_for_model(_rows(10, seed=6), _policy(), _CALIBRATION)
    assert not adaptation.applied and calibration is _CALIBRATION
    assert "centre_weights" not in adaptation.record()
    adaptation, _ = adapt_for_model(_rows(40, seed=7), _policy(), _CALIBRATION, "none")
    assert not adaptation.applied
