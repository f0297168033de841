"""A policy whose calibration reads the collection's own units: pair statistics that match the
similarities, order-free, a calibration moved onto the cosines exactly, recorded, and older
models' policies read as plain cosines."""

from __future__ import annotations

import numpy as np
import pytest

from painter_match.inference.calibration import Calibration, fit_calibration
from painter_match.inference.collection import (
    MAX_STATISTICS_ROWS,
    CollectionPolicy,
    adapt_for_model,
    centre_on,
    collection_mean,
    pair_statistics,
)


def _unit_rows(n: int, d: int, seed: int, spread: float = 1.0) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32) * spread + 0.2
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_pair_statistics_are_those_of_every_pair_and_ignore_the_order() -> None:
    rows = _unit_rows(300, 24, seed=1)
    stats = pair_statistics(rows)
    similarities = (rows @ rows.T)[~np.eye(300, dtype=bool)]
    assert stats.paintings == 300
    assert stats.mean == pytest.approx(similarities.mean(), abs=1e-6)
    assert stats.std == pytest.approx(similarities.std(), abs=1e-6)
    shuffled = rows[np.random.default_rng(2).permutation(300)]
    assert pair_statistics(shuffled) == stats


def test_large_collections_are_thinned_evenly_and_still_order_free() -> None:
    rows = _unit_rows(MAX_STATISTICS_ROWS + 500, 8, seed=3)
    stats = pair_statistics(rows)
    assert stats.paintings == MAX_STATISTICS_ROWS
    full = rows @ rows.T
    off = full[~np.eye(len(rows), dtype=bool)]
    # A subset of 4096 rows pins the statistics of all 21 million pairs closely.
    assert stats.mean == pytest.approx(off.mean(), abs=2e-3)
    assert stats.std == pytest.approx(off.std(), rel=0.02)
    assert pair_statistics(rows[::-1].copy()) == stats


def test_pair_statistics_refuse_what_cannot_be_standardised() -> None:
    with pytest.raises(ValueError, match="at least 2 rows"):
        pair_statistics(np.ones((1, 4), np.float32))
    same = np.tile(np.array([[1.0, 0.0]], np.float32), (5, 1))
    with pytest.raises(ValueError, match="nothing to standardise by"):
        pair_statistics(same)


def test_a_standardised_calibration_moved_onto_cosines_gives_the_same_probabilities() -> None:
    rows = _unit_rows(80, 16, seed=4)
    stats = pair_statistics(rows)
    standard = Calibration(slope=1.8, intercept=-1.6, threshold=1.6 / 1.8, positive_share=0.5, pairs=100)
    on_cosines = stats.calibration_on_cosines(standard)
    cosines = np.linspace(-0.5, 0.9, 15)
    np.testing.assert_allclose(
        on_cosines.probability(cosines), standard.probability((cosines - stats.mean) / stats.std), rtol=1e-6
    )
    # The verdict still flips exactly where the probability is one half.
    assert on_cosines.probability([on_cosines.threshold])[0] == pytest.approx(0.5, abs=1e-6)
    assert on_cosines.threshold == pytest.approx(stats.mean + stats.std * standard.threshold)


def test_a_collection_unit_policy_scores_each_collection_by_its_own_spread() -> None:
    plain = Calibration(slope=6.0, intercept=-2.0, threshold=1 / 3, positive_share=0.5, pairs=10)
    standard = Calibration(slope=2.0, intercept=-2.0, threshold=1.0, positive_share=0.5, pairs=10)
    policy = CollectionPolicy("centre", 20, standard, "collection")
    narrow, wide = _unit_rows(200, 64, seed=5, spread=0.3), _unit_rows(200, 8, seed=6)
    thresholds = []
    for rows in (narrow, wide):
        adaptation, calibration = adapt_for_model(rows, policy, plain)
        centred = centre_on(rows, collection_mean(rows))
        stats = pair_statistics(centred)
        assert adaptation.statistics == stats
        record = adaptation.record()
        assert record["units"] == "collection" and record["pair_std"] == round(stats.std, 6)
        # One standard deviation above the collection's typical pair: P = 1/2 in both.
        assert calibration.threshold == pytest.approx(stats.mean + stats.std)
        thresholds.append(calibration.threshold)
    # The 8-dimensional collection's unrelated pairs spread wider: its threshold is higher.
    assert thresholds[1] > thresholds[0] + 0.1
    # Below the minimum size the plain calibration and cosines stand, as before.
    adaptation, calibration = adapt_for_model(narrow[:19], policy, plain)
    assert not adaptation.applied and calibration == plain and "units" not in adaptation.record()


def test_policies_record_their_units_and_older_ones_read_as_cosines() -> None:
    calibration = fit_calibration(np.array([0.1, 0.2, 0.7, 0.9]), np.array([0, 0, 1, 1]))
    policy = CollectionPolicy("centre", 20, calibration, "collection")
    assert CollectionPolicy.from_dict(policy.to_dict()) == policy
    older = policy.to_dict()
    del older["units"]
    assert CollectionPolicy.from_dict(older).units == "cosine"
    with pytest.raises(ValueError, match="units must be one of cosine, collection"):
        CollectionPolicy.from_dict({**policy.to_dict(), "units": "sigmas"})


def test_a_fit_in_standard_units_keeps_a_threshold_beyond_the_cosines_range() -> None:
    scores = np.array([-1.0, 0.0, 0.5, 1.0, 2.0, 2.5, 3.0, 4.0])
    same = np.array([0, 0, 0, 0, 1, 0, 1, 1])
    assert fit_calibration(scores, same).threshold == 1.0  # clipped to a cosine's range
    wide = fit_calibration(scores, same, bounds=(-20.0, 20.0))
    assert 1.5 < wide.threshold < 3.0


def test_a_collection_of_one_picture_many_times_falls_back_and_says_why() -> None:
    plain = Calibration(slope=6.0, intercept=-2.0, threshold=1 / 3, positive_share=0.5, pairs=10)
    policy = CollectionPolicy("centre", 20, plain, "collection")
    rows = np.tile(_unit_rows(1, 16, seed=7), (30, 1))  # one picture, thirty copies
    adaptation, calibration = adapt_for_model(rows, policy, plain)
    assert not adaptation.applied and calibration == plain
    assert "all alike" in str(adaptation.record()["reason"])
