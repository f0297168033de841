"""Platt calibration: recovers a known logistic law, round-trips, and rejects one-class input."""

from __future__ import annotations

import numpy as np
import pytest

from painter_match.inference.calibration import Calibration, check_prior, fit_calibration


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


# --- moving the probabilities to another share of same-artist pairs ----------------------------


def _pairs(rng: np.random.Generator, same: int, different: int) -> tuple[np.ndarray, np.ndarray]:
    """Similarities of two normal classes of equal spread: their posterior is exactly logistic."""
    similarity = np.concatenate([rng.normal(0.5, 0.15, same), rng.normal(0.1, 0.15, different)])
    return similarity, np.r_[np.ones(same), np.zeros(different)]


def test_at_prior_equals_a_fit_on_pairs_at_that_share() -> None:
    rng = np.random.default_rng(1)
    balanced = fit_calibration(*_pairs(rng, 20_000, 20_000))
    rare_similarity, rare_same = _pairs(rng, 4_000, 196_000)  # 2% same-artist, as among many artists
    direct = fit_calibration(rare_similarity, rare_same)
    moved = balanced.at_prior(0.02)

    assert moved.slope == balanced.slope and moved.positive_share == 0.02
    assert moved.intercept == pytest.approx(direct.intercept, abs=0.15)
    # Calibrated where the balanced fit is not: the expected number of same-artist pairs.
    assert moved.probability(rare_similarity).sum() == pytest.approx(4_000, rel=0.05)
    assert balanced.probability(rare_similarity).sum() > 5 * 4_000
    # The moved threshold is the cut with the fewest mistakes at 2%.
    errors = {
        name: int(((rare_similarity >= c.threshold) != rare_same.astype(bool)).sum())
        for name, c in (("balanced", balanced), ("moved", moved), ("direct", direct))
    }
    assert errors["moved"] < errors["balanced"] / 3
    assert errors["moved"] <= errors["direct"] * 1.05


def odds(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    return p / (1 - p)


def test_at_prior_scales_every_odds_by_the_prior_odds_keeps_the_order_and_comes_back() -> None:
    calibration = Calibration(slope=6.7, intercept=-1.8, threshold=0.25, positive_share=0.5, pairs=3000)
    similarity = np.linspace(-0.3, 1.0, 27)
    p = calibration.probability(similarity)
    moved = calibration.at_prior(0.013).probability(similarity)
    np.testing.assert_allclose(odds(moved) / odds(p), 0.013 / 0.987, rtol=1e-4)
    assert (np.diff(moved) > 0).all() and (moved < p).all()
    back = calibration.at_prior(0.013).at_prior(0.5)
    assert back.intercept == pytest.approx(calibration.intercept) and back.threshold == pytest.approx(0.25)
    assert calibration.at_prior(0.5) == calibration


@pytest.mark.parametrize("share", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_a_prior_outside_zero_one_is_refused(share: float) -> None:
    calibration = Calibration(slope=6.7, intercept=-1.8, threshold=0.25, positive_share=0.5, pairs=3000)
    with pytest.raises(ValueError, match="between 0 and 1"):
        calibration.at_prior(share)
    with pytest.raises(ValueError, match="between 0 and 1"):
        check_prior(share)


def test_with_threshold_moves_only_the_intercept_and_keeps_verdict_and_probability_agreeing() -> None:
    rng = np.random.default_rng(1)
    similarity = rng.normal(size=5_000)
    same = rng.random(similarity.size) < 1 / (1 + np.exp(-(2.0 * similarity - 0.6)))
    fitted = fit_calibration(similarity, same, bounds=(-20.0, 20.0))
    moved = fitted.with_threshold(0.84)
    assert moved.slope == fitted.slope and moved.positive_share == fitted.positive_share
    assert moved.threshold == 0.84 and moved.intercept == pytest.approx(-fitted.slope * 0.84)
    p = moved.probability([0.83, 0.84, 0.85])
    assert p[0] < 0.5 < p[2] and p[1] == pytest.approx(0.5, abs=1e-6)
    # Same ranking as the fit: only where "same" begins has moved.
    assert np.all(np.diff(moved.probability(np.sort(similarity))) >= 0)
    with pytest.raises(ValueError, match="slope"):
        Calibration(0.0, 0.1, 0.0, 0.5, 10).with_threshold(0.5)
