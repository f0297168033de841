"""The trainer's collection calibration: validation paintings centred on, and standardised by,
the collection of training and validation paintings, which a few validation artists cannot make."""

from __future__ import annotations

import numpy as np
import pytest

from painter_match.inference.collection import CollectionPolicy, adapt_for_model, centre_on, collection_mean
from painter_match.train.collection_fit import MIN_STANDARD_THRESHOLD, centred_validation


def _artists(
    n_artists: int, per: int, seed: int, d: int = 32, noise: float = 1.2
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_artists, d))
    labels = np.repeat(np.arange(n_artists), per)
    rows = centres[labels] + rng.normal(size=(len(labels), d)) * noise + 0.5
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32), labels


def _all_pairs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    first, second = np.triu_indices(len(labels), 1)
    return first, second, labels[first] == labels[second]


def test_the_fit_uses_the_whole_collection_and_reports_the_centred_auc() -> None:
    val, val_labels = _artists(3, 20, seed=1)
    train, _ = _artists(60, 10, seed=2)
    first, second, same = _all_pairs(val_labels)
    alone = centred_validation(val, first, second, same)
    together = centred_validation(val, first, second, same, others=train)
    assert alone.paintings == 60 and together.paintings == 660
    centred = centre_on(val, collection_mean(np.concatenate([val, train])))
    from painter_match.metrics import roc_auc

    assert together.auc == pytest.approx(roc_auc(same, (centred[first] * centred[second]).sum(1)))
    # Three artists centred on their own mean push their different-artist pairs far below a
    # many-artist collection's typical pair: the fit on them alone calls "same" too early.
    assert together.calibration.threshold > alone.calibration.threshold


def test_the_fitted_calibration_holds_on_a_new_many_artist_collection() -> None:
    val, val_labels = _artists(3, 20, seed=3)
    train, _ = _artists(60, 10, seed=4)
    first, second, same = _all_pairs(val_labels)
    fitted = centred_validation(val, first, second, same, others=train).calibration
    policy = CollectionPolicy("centre", 20, fitted, "collection")
    new, new_labels = _artists(80, 8, seed=5)
    adaptation, calibration = adapt_for_model(new, policy, fitted)
    centred = adaptation.apply(new)
    f, s, same_new = _all_pairs(new_labels)
    called = calibration.probability((centred[f] * centred[s]).sum(1)) >= 0.5
    # The criteria of issue 23's verdicts, on artists the fit never saw.
    assert called[~same_new].mean() <= 0.25
    assert called[same_new].mean() >= 0.5


def _balanced(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every same-artist pair and as many others, as the trainer's validation pairs are."""
    first, second, same = _all_pairs(labels)
    others = np.random.default_rng(0).choice(np.flatnonzero(~same), int(same.sum()), replace=False)
    keep = np.concatenate([np.flatnonzero(same), others])
    return first[keep], second[keep], same[keep]


def test_a_weak_fit_on_few_artists_has_its_threshold_raised_to_the_floor_and_says_so() -> None:
    # Three validation artists the model barely tells apart: the fit alone would call "same"
    # for far more than a fifth of a new collection's different-artist pairs.
    val, val_labels = _artists(3, 20, seed=11, noise=2.0)
    train, _ = _artists(60, 10, seed=12)
    first, second, same = _balanced(val_labels)
    fit = centred_validation(val, first, second, same, others=train)
    assert fit.fitted_threshold is not None and fit.fitted_threshold < MIN_STANDARD_THRESHOLD
    assert fit.calibration.threshold == pytest.approx(MIN_STANDARD_THRESHOLD)
    assert fit.calibration.probability([MIN_STANDARD_THRESHOLD])[0] == pytest.approx(0.5, abs=1e-6)
    policy = CollectionPolicy("centre", 20, fit.calibration, "collection")
    new, new_labels = _artists(80, 8, seed=8, noise=2.0)
    adaptation, calibration = adapt_for_model(new, policy, fit.calibration)
    centred = adaptation.apply(new)
    f, s, same_new = _all_pairs(new_labels)
    called = calibration.probability((centred[f] * centred[s]).sum(1)) >= 0.5
    # About 1 - Phi(0.84) = 0.2 of the different-artist pairs, whatever the fit had said.
    assert 0.12 <= called[~same_new].mean() <= 0.25
    unraised = policy.calibration.with_threshold(fit.fitted_threshold)
    adaptation, loose = adapt_for_model(new, CollectionPolicy("centre", 20, unraised, "collection"), unraised)
    assert (loose.probability((centred[f] * centred[s]).sum(1)) >= 0.5)[~same_new].mean() > 0.25


def test_a_fit_above_the_floor_is_kept_as_fitted() -> None:
    val, val_labels = _artists(6, 20, seed=9, noise=0.8)
    train, _ = _artists(60, 10, seed=10)
    first, second, same = _balanced(val_labels)
    fit = centred_validation(val, first, second, same, others=train)
    assert fit.fitted_threshold is None
    assert fit.calibration.threshold > MIN_STANDARD_THRESHOLD
    assert fit.calibration.intercept != pytest.approx(-fit.calibration.slope * MIN_STANDARD_THRESHOLD)


def test_the_fit_centres_each_part_by_the_share_the_model_will_use() -> None:
    val, val_labels = _artists(3, 20, seed=13)
    train, _ = _artists(60, 10, seed=14)
    first, second, same = _balanced(val_labels)
    weights = ((8, 1.0), (24, 0.5))
    fit = centred_validation(val, first, second, same, others=train, centre_weights=weights)
    mean = collection_mean(np.concatenate([val, train]))
    centred = centre_on(val, np.concatenate([mean[:8], 0.5 * mean[8:]]))
    from painter_match.metrics import roc_auc

    assert fit.auc == pytest.approx(roc_auc(same, (centred[first] * centred[second]).sum(1)))
    whole = centred_validation(val, first, second, same, others=train)
    assert fit.auc != pytest.approx(whole.auc, abs=1e-9)
