"""Scores for same-artist decisions: ROC AUC and accuracy at the best threshold.

Plain numpy so that the inference path can report them without scikit-learn or torch.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def _as_binary_and_scores(labels: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels).astype(bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"labels and scores differ in length: {y.size} vs {s.size}")
    if not np.isfinite(s).all():
        raise ValueError("scores contain NaN or infinity")
    return y, s


def roc_auc(labels: ArrayLike, scores: ArrayLike) -> float:
    """Area under the ROC curve, ties counted as half (the Mann-Whitney U statistic).

    The project's one AUC: training's validation, evaluation, the baselines, export's variant
    check and ``score --solution`` (21.9 million pairs) all call it. It sorts the two classes'
    scores apart and counts, for each positive, the negatives below it (twice: without and with
    ties) in exact integers, so memory stays a few copies of the scores; float32 scores are kept
    float32 (about 0.5 GB less at Kaggle scale than ranking them in float64).

    Args:
        labels: 1 (or True) where the pair shares an artist, else 0.
        scores: higher means more likely the same artist.

    Returns:
        The AUC in [0, 1].

    Raises:
        ValueError: when only one class is present, the inputs differ in length, or a score is
            not finite.
    """
    y = np.asarray(labels).astype(bool).ravel()
    s = np.asarray(scores).ravel()
    if s.dtype != np.float32:
        s = s.astype(np.float64)
    if y.shape != s.shape:
        raise ValueError(f"labels and scores differ in length: {y.size} vs {s.size}")
    if not np.isfinite(s).all():
        raise ValueError("scores contain NaN or infinity")
    positive = np.sort(s[y])
    negative = np.sort(s[~y])
    if len(positive) == 0 or len(negative) == 0:
        raise ValueError("ROC AUC needs both same-artist and different-artist pairs")
    twice_u = 0
    step = 1 << 20  # bounds the int64 positions held at once
    for start in range(0, len(positive), step):
        chunk = positive[start : start + step]
        below = np.searchsorted(negative, chunk, side="left")
        below_or_tied = np.searchsorted(negative, chunk, side="right")
        twice_u += int(below.sum()) + int(below_or_tied.sum())
    return twice_u / (2 * len(positive) * len(negative))


def best_threshold_accuracy(labels: ArrayLike, scores: ArrayLike) -> tuple[float, float]:
    """The accuracy of the best rule "same artist when score >= t", and that t.

    Returns:
        ``(accuracy, threshold)``.
    """
    y, s = _as_binary_and_scores(labels, scores)
    if y.size == 0:
        raise ValueError("no pairs to score")
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    # Predicting "same" for the first k pairs: correct = positives among them + negatives after.
    true_pos = np.cumsum(y_sorted)
    k = np.arange(1, y.size + 1)
    correct = true_pos + ((~y).sum() - (k - true_pos))
    # Only cut between distinct scores; the last index of each run of ties is a valid cut.
    valid = np.r_[s_sorted[1:] != s_sorted[:-1], True]
    correct_all_different = (~y).sum()
    best = int(np.argmax(np.where(valid, correct, -1)))
    if correct_all_different >= correct[best]:
        return float(correct_all_different / y.size), float(np.nextafter(s_sorted[0], np.inf))
    return float(correct[best] / y.size), float(s_sorted[best])


def roc_curve(labels: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False and true positive rates at every distinct score, highest threshold first.

    Returns:
        ``(fpr, tpr, thresholds)``; the first point is (0, 0) at threshold +inf.
    """
    y, s = _as_binary_and_scores(labels, scores)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("a ROC curve needs both same-artist and different-artist pairs")
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    last_of_run = np.r_[s_sorted[1:] != s_sorted[:-1], True]
    true_pos = np.cumsum(y_sorted)[last_of_run]
    false_pos = np.cumsum(~y_sorted)[last_of_run]
    fpr = np.r_[0.0, false_pos / n_neg]
    tpr = np.r_[0.0, true_pos / n_pos]
    return fpr, tpr, np.r_[np.inf, s_sorted[last_of_run]]


def confusion_at(labels: ArrayLike, scores: ArrayLike, threshold: float) -> dict[str, int]:
    """Counts of the rule "same artist when score >= threshold"."""
    y, s = _as_binary_and_scores(labels, scores)
    predicted = s >= threshold
    return {
        "true_same": int((predicted & y).sum()),
        "false_same": int((predicted & ~y).sum()),
        "false_different": int((~predicted & y).sum()),
        "true_different": int((~predicted & ~y).sum()),
    }


def log_loss(labels: ArrayLike, probabilities: ArrayLike) -> float:
    """Mean negative log-likelihood (natural log) of 0/1 labels under the given probabilities,
    each clipped to [1e-7, 1 - 1e-7] so that one confident mistake is costly but finite."""
    y = np.asarray(labels).astype(bool).ravel()
    p = np.clip(np.asarray(probabilities, dtype=np.float64).ravel(), 1e-7, 1.0 - 1e-7)
    if y.size != p.size or y.size == 0:
        raise ValueError(f"need equally many labels and probabilities, got {y.size} and {p.size}")
    return float(-np.mean(np.where(y, np.log(p), np.log1p(-p))))


def expected_calibration_error(labels: ArrayLike, probabilities: ArrayLike, bins: int = 10) -> float:
    """Expected calibration error: over ``bins`` equal-width bins of the predicted probability, the
    pair-weighted mean gap between the mean prediction and the observed share of positives."""
    y = np.asarray(labels, dtype=np.float64).ravel()
    p = np.asarray(probabilities, dtype=np.float64).ravel()
    if y.size == 0 or y.size != p.size:
        raise ValueError(f"need equally many labels and probabilities, got {y.size} and {p.size}")
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    counts = np.bincount(which, minlength=bins)
    predicted = np.bincount(which, weights=p, minlength=bins)
    observed = np.bincount(which, weights=y, minlength=bins)
    filled = counts > 0
    gaps = np.abs(predicted[filled] - observed[filled])  # sums per bin: |n*mean_p - n*mean_y|
    return float(gaps.sum() / y.size)
