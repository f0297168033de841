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


def test_roc_curve_area_is_the_auc_and_confusion_counts() -> None:
    from painter_match.metrics import confusion_at, roc_curve

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 200)
    scores = labels * 0.5 + rng.normal(size=200)
    fpr, tpr, thresholds = roc_curve(labels, scores)
    assert fpr[0] == tpr[0] == 0.0 and fpr[-1] == tpr[-1] == 1.0
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    assert area == pytest.approx(roc_auc(labels, scores))
    counts = confusion_at([1, 1, 0, 0], [0.9, 0.2, 0.8, 0.1], 0.5)
    assert counts == {"true_same": 1, "false_same": 1, "false_different": 1, "true_different": 1}
