"""The calibration a model's collection adaptation scores with, fitted on its validation pairs.

At use time a collection's embeddings are centred on its own mean and a similarity is read in the
collection's own units (`painter_match.inference.collection`). The collections users bring hold
many artists; the validation paintings alone may hold a handful (three, for a model trained on 31
artists), and centred on their own mean, with a third of their pairs by one artist, they make a
collection unlike any a user scores. So the validation paintings are centred on, and their
similarities standardised by, the collection of every training and validation painting. Trained
on real-paintings-128 and scored on wikiart-224's artists, that took the share of
different-artist pairs called "same" from 45% to 34% (docs/real-photographs.md, "Verdicts").

numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from painter_match.inference.calibration import Calibration, fit_calibration
from painter_match.inference.collection import centre_on, collection_mean, pair_statistics
from painter_match.inference.similarity import pairwise_cosine
from painter_match.metrics import roc_auc

# Standardised similarities: the threshold may lie this many standard deviations from the mean.
_STANDARD_BOUNDS = (-20.0, 20.0)


@dataclass(frozen=True)
class CentredValidation:
    """The validation pairs scored as the collection adaptation scores them.

    Attributes:
        auc: of the centred similarities.
        calibration: standardised centred similarity -> P(same artist); None when the
            collection's pairs are all alike (collapsed embeddings): nothing to standardise by.
        paintings: how many paintings the collection's mean and statistics were taken over.
    """

    auc: float
    calibration: Calibration | None
    paintings: int


def centred_validation(
    embeddings: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    same: np.ndarray,
    others: np.ndarray | None = None,
) -> CentredValidation:
    """Score validation pairs centred and standardised on the collection, and fit their calibration.

    Args:
        embeddings: the validation paintings' embeddings [n, D] (unit rows).
        first, second: each pair's rows in ``embeddings``.
        same: whether each pair is by one artist (both classes present).
        others: the training paintings' embeddings [m, D], the rest of the collection; None
            when they are not at hand (the validation paintings are then the whole collection).
    """
    collection = embeddings if others is None or len(others) == 0 else np.concatenate([embeddings, others])
    mean = collection_mean(collection)
    centred = centre_on(collection, mean)
    similarity = pairwise_cosine(centred[: len(embeddings)], first, second)
    try:
        statistics = pair_statistics(centred)
    except ValueError:
        return CentredValidation(roc_auc(same, similarity), None, len(collection))
    standardised = (similarity.astype(np.float64) - statistics.mean) / statistics.std
    return CentredValidation(
        auc=roc_auc(same, similarity),
        calibration=fit_calibration(standardised, same, bounds=_STANDARD_BOUNDS),
        paintings=len(collection),
    )
