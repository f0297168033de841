"""Platt calibration: recovers a known logistic law, round-trips, and rejects one-class input."""

from __future__ import annotations

import numpy as np
import pytest

from painter_match.inference.calibration import Calibration, fit_calibration


def test_recovers_the_law_that_made_the_labels() -> None:
    rng = np.random.default_rng(0)
    similarity = rng.uniform(-1, 1, 20_000)
    true_probability = 1 / (1 + np.exp(-(6.0 * similarity - 1.5)))
    same = rng.random(similarity.size) < true_probability
    calibration = fit_calibration(similarity, same)
    assert calibration.slope == pytest.approx(6.0, rel=0.08)
    assert calibration.intercept == pytest.approx(-1.5, abs=0.12)
    assert calibration.probability([0.25])[0] == pytest.approx(0.5, abs=0.03)
    # The best-accuracy cut of a logistic law sits where p = 0.5.
    assert calibration.threshold == pytest.approx(0.25, abs=0.06)
    assert calibration.pairs == 20_000


def test_separable_pairs_stay_finite_and_monotone() -> None:
    calibration = fit_calibration([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])
    p = calibration.probability([0.1, 0.5, 0.9])
    assert np.isfinite(calibration.slope) and p[0] < p[1] < p[2]
    assert 0.2 < calibration.threshold <= 0.8
    assert p.dtype == np.float32


def test_round_trip_and_bad_fields() -> None:
    calibration = fit_calibration([0.1, 0.3, 0.5, 0.9], [0, 1, 0, 1])
    assert Calibration.from_dict(calibration.to_dict()) == calibration
    with pytest.raises(ValueError, match="'slope'"):
        Calibration.from_dict({"intercept": 0.0})
    with pytest.raises(ValueError, match="both"):
        fit_calibration([0.1, 0.2], [1, 1])
