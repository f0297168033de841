"""The trainer's collection calibration: validation paintings centred on, and standardised by,
the collection of training and validation paintings, which a few validation artists cannot make."""

from __future__ import annotations

import numpy as np
import pytest

from painter_match.inference.collection import CollectionPolicy, adapt_for_model, centre_on, collection_mean
from painter_match.train.collection_fit import centred_validation


def _artists(n_artists: int, per: int, seed: int, d: int = 32) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_artists, d))
    labels = np.repeat(np.arange(n_artists), per)
    rows = centres[labels] + rng.normal(size=(len(labels), d)) * 1.2 + 0.5
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
