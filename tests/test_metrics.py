"""ROC AUC and best-threshold accuracy, checked against plain loops over pairs and thresholds."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from painter_match.metrics import best_threshold_accuracy, roc_auc


def auc_by_loop(labels: list[int], scores: list[float]) -> float:
    pos = [s for y, s in zip(labels, scores) if y]
    neg = [s for y, s in zip(labels, scores) if not y]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def accuracy_by_loop(labels: list[int], scores: list[float]) -> float:
    cuts = sorted(set(scores)) + [max(scores) + 1]
    return max(sum((s >= t) == bool(y) for y, s in zip(labels, scores)) / len(labels) for t in cuts)


@pytest.mark.parametrize("seed", range(5))
def test_auc_matches_pairwise_count_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 60).tolist()
    labels[0], labels[1] = 0, 1
    scores = rng.integers(0, 8, 60).astype(float).tolist()  # many ties
    assert roc_auc(labels, scores) == pytest.approx(auc_by_loop(labels, scores))


def test_auc_extremes() -> None:
    assert roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert roc_auc([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9]) == 0.0
    assert roc_auc([0, 1], [0.5, 0.5]) == 0.5


def test_auc_needs_both_classes() -> None:
    with pytest.raises(ValueError, match="both"):
        roc_auc([1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="differ in length"):
        roc_auc([1, 0], [0.2])


@pytest.mark.parametrize("seed", range(5))
def test_best_threshold_accuracy_matches_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 40).tolist()
    scores = rng.integers(0, 6, 40).astype(float).tolist()
    accuracy, threshold = best_threshold_accuracy(labels, scores)
    assert accuracy == pytest.approx(accuracy_by_loop(labels, scores))
    predicted = np.asarray(scores) >= threshold
    assert np.mean(predicted == np.asarray(labels).astype(bool)) == pytest.approx(accuracy)
