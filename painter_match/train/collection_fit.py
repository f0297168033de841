"""The calibration a model's collection adaptation scores with, fitted on its validation pairs.

At use time a collection's embeddings are centred on its own mean and a similarity is read in the
collection's own units (`painter_match.inference.collection`). The collections users bring hold
many artists; the validation paintings alone may hold a handful (three, for a model trained on 31
artists), and centred on their own mean, with a third of their pairs by one artist, they make a
collection unlike any a user scores. So the validation paintings are centred on, and their
similarities standardised by, the collection of every training and validation painting. Trained
on real-paintings-128 and scored on wikiart-224's artists, that took the share of
different-artist pairs called "same" from 45% to 34% (docs/real-photographs.md, "Verdicts").

The threshold has a floor. In these units a many-artist collection's different-artist pairs are
close to standard (they are nearly all its pairs), so a threshold t calls about 1 - Phi(t) of them
"same" whatever the model and the collection. Measured on the yardsticks' five sets (folds,
photographed copies, both cross-source directions, gallery photos), t = 0.8 called 19-22% of them
"same". A fit on a handful of weakly separated validation artists puts t lower: trained on
real-paintings-128, whose validation held 3 artists (AUC 0.71), the fit said 0.28, and 38% of
wikiart-224's different-artist pairs were called "same". A verdict of "same" for more than a fifth
of a collection's pairs cannot be right where same-artist pairs are a small share of all pairs, so
the threshold is raised to Phi^-1(0.8) when the fit lands below it (docs/real-photographs.md,
"Verdicts").

numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from painter_match.inference.calibration import Calibration, fit_calibration
from painter_match.inference.collection import CentreWeights, centre_on, centring_mean, pair_statistics
from painter_match.inference.similarity import pairwise_cosine
from painter_match.metrics import roc_auc

# Standardised similarities: the threshold may lie this many standard deviations from the mean.
_STANDARD_BOUNDS = (-20.0, 20.0)
# The most a verdict calls "same": a fifth of a collection's pairs (about standard; see above).
MOST_PAIRS_CALLED_SAME = 0.2
MIN_STANDARD_THRESHOLD = NormalDist().inv_cdf(1.0 - MOST_PAIRS_CALLED_SAME)


@dataclass(frozen=True)
class CentredValidation:
    """The validation pairs scored as the collection adaptation scores them.

    Attributes:
        auc: of the centred similarities.
        calibration: standardised centred similarity -> P(same artist); None when the
            collection's pairs are all alike (collapsed embeddings): nothing to standardise by.
        paintings: how many paintings the collection's mean and statistics were taken over.
        fitted_threshold: the fit's own threshold when it lay below `MIN_STANDARD_THRESHOLD`
            and was raised to it; None when it was kept.
    """

    auc: float
    calibration: Calibration | None
    paintings: int
    fitted_threshold: float | None = None


def centred_validation(
    embeddings: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    same: np.ndarray,
    others: np.ndarray | None = None,
    centre_weights: CentreWeights = (),
) -> CentredValidation:
    """Score validation pairs centred and standardised on the collection, and fit their calibration.

    Args:
        embeddings: the validation paintings' embeddings [n, D] (unit rows).
        first, second: each pair's rows in ``embeddings``.
        same: whether each pair is by one artist (both classes present).
        others: the training paintings' embeddings [m, D], the rest of the collection; None
            when they are not at hand (the validation paintings are then the whole collection).
        centre_weights: the share of the mean subtracted, run by run of dimensions, as the
            model's collection adaptation will subtract it (empty: all of it).
    """
    collection = embeddings if others is None or len(others) == 0 else np.concatenate([embeddings, others])
    mean = centring_mean(collection, centre_weights)
    centred = centre_on(collection, mean)
    similarity = pairwise_cosine(centred[: len(embeddings)], first, second)
    try:
        statistics = pair_statistics(centred)
    except ValueError:
        return CentredValidation(roc_auc(same, similarity), None, len(collection))
    standardised = (similarity.astype(np.float64) - statistics.mean) / statistics.std
    calibration = fit_calibration(standardised, same, bounds=_STANDARD_BOUNDS)
    fitted_threshold = None
    if calibration.slope > 0 and calibration.threshold < MIN_STANDARD_THRESHOLD:
        fitted_threshold = calibration.threshold
        calibration = calibration.with_threshold(MIN_STANDARD_THRESHOLD)
    return CentredValidation(
        auc=roc_auc(same, similarity),
        calibration=calibration,
        paintings=len(collection),
        fitted_threshold=fitted_threshold,
    )
