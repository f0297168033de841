"""Turn a cosine similarity into a probability of "same artist", and pick the decision threshold.

Fitted by the trainer on validation pairs of artists it never trained on, stored with the
checkpoint, carried into the ONNX metadata by export, and applied by the CLI: numpy only, so the
inference path needs no torch. The model is Platt scaling, p = sigmoid(slope * s + intercept),
fitted by Newton's method on the log-loss.

The probability assumes the fit's share of same-artist pairs (half, for the trainer's balanced
validation pairs). Where same-artist pairs are rarer, as among all pairs of a collection (Kaggle's
test pairs: about 1.3%), `Calibration.at_prior` (and the reference's `Combiner.at_prior`) move it to
that share by Bayes' rule: the log-odds gain log-odds(new share) - log-odds(fitted share), and nothing else changes. The
ranking, and so the AUC, is the same at every prior.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike

from painter_match.metrics import best_threshold_accuracy


@dataclass(frozen=True)
class Calibration:
    """Similarity -> probability, and the similarity at which the verdict flips.

    Attributes:
        slope, intercept: the logistic fit.
        threshold: similarity at or above which two paintings are called the same artist (the
            point where the fitted probability is one half).
        positive_share: share of same-artist pairs the fit saw; probabilities assume it.
        pairs: number of pairs it was fitted on.
    """

    slope: float
    intercept: float
    threshold: float
    positive_share: float
    pairs: int

    def probability(self, similarity: ArrayLike) -> np.ndarray:
        """P(same artist) for each similarity, float32."""
        z = self.slope * np.asarray(similarity, dtype=np.float64) + self.intercept
        return sigmoid(z).astype(np.float32)

    def at_prior(self, share: float) -> Calibration:
        """The same fit for pairs of which ``share`` are by one artist (Bayes' rule on the odds).

        The threshold moves as far as the fewest-mistakes cut does: to where the likelihood ratio
        of the two classes is the new odds against, not the fitted ones (by the log-odds shift over
        the slope). A low share calls few pairs the same artist.

        Raises:
            ValueError: ``share`` is not strictly between 0 and 1.
        """
        shift = prior_log_odds_shift(self.positive_share, share)
        intercept = self.intercept + shift
        threshold = self.threshold - shift / self.slope if self.slope > 0 else self.threshold
        return Calibration(
            slope=self.slope,
            intercept=intercept,
            threshold=float(threshold),
            positive_share=float(share),
            pairs=self.pairs,
        )

    def with_threshold(self, threshold: float) -> Calibration:
        """The same slope with the intercept moved so that P(same) is one half at ``threshold``.

        The verdict and the probability keep agreeing: a pair is called "same" exactly where its
        probability reaches one half.

        Raises:
            ValueError: the slope is not positive (the probability does not rise with similarity,
                so no intercept puts one half at a chosen place).
        """
        if not self.slope > 0:
            raise ValueError(f"a calibration with slope {self.slope} has no threshold to move")
        return Calibration(
            slope=self.slope,
            intercept=-self.slope * float(threshold),
            threshold=float(threshold),
            positive_share=self.positive_share,
            pairs=self.pairs,
        )

    def to_dict(self) -> dict[str, float | int | str]:
        return {"method": "logistic", **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Calibration:
        """Read back what ``to_dict`` wrote.

        Raises:
            ValueError: naming a missing or non-numeric field.
        """
        values: dict[str, float] = {}
        for name in ("slope", "intercept", "threshold", "positive_share", "pairs"):
            value = data.get(name)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ValueError(f"calibration field {name!r} must be a number, got {value!r}")
            # JSON readers take NaN and Infinity: a NaN slope would make every probability NaN.
            if not math.isfinite(value):
                raise ValueError(f"calibration field {name!r} must be a finite number, got {value!r}")
            values[name] = float(value)
        if not 0.0 <= values["positive_share"] <= 1.0:
            raise ValueError(
                f"calibration field 'positive_share' must be a share from 0 to 1, got {values['positive_share']}"
            )
        if values["pairs"] < 0 or values["pairs"] != int(values["pairs"]):
            raise ValueError(f"calibration field 'pairs' must be a count, got {data.get('pairs')!r}")
        return cls(
            slope=values["slope"],
            intercept=values["intercept"],
            threshold=values["threshold"],
            positive_share=values["positive_share"],
            pairs=int(values["pairs"]),
        )


# The priors whose probabilities can be written. Scores are float32 with six significant digits
# (`painter_match.inference.scoring.engine`): tiny probabilities keep their order down to float32's
# smallest normal number (1.2e-38), and 1e-20 leaves a model 18 orders of magnitude of likelihood
# ratio below that; near 1 the written text steps by 1e-6, so above 1 - 1e-6 every pair the model
# finds likelier same than not would be written as 1 and lose its order.
MIN_PRIOR = 1e-20
MAX_PRIOR = 1.0 - 1e-6


def check_prior(share: float) -> float:
    """``share`` as a prior share of same-artist pairs.

    Raises:
        ValueError: it is not strictly between 0 and 1 (at 0 or 1 the probability is fixed), or
            outside [`MIN_PRIOR`, `MAX_PRIOR`], where the probabilities cannot be represented.
    """
    if not 0.0 < share < 1.0:
        raise ValueError(
            f"a prior share of same-artist pairs must be between 0 and 1 (exclusive), got {share}"
        )
    if not MIN_PRIOR <= share <= MAX_PRIOR:
        raise ValueError(
            f"a prior share of same-artist pairs must be from {MIN_PRIOR:g} to {MAX_PRIOR:.6f}, got {share:g}: "
            "beyond them the probabilities written cannot keep the pairs' order"
        )
    return float(share)


def sigmoid(z: ArrayLike) -> np.ndarray:
    """The logistic function, float64, exact in both tails.

    ``exp(-|z|)`` never overflows, and for very negative ``z`` the result is ``exp(z) / (1 +
    exp(z))``, not ``1 - something``: ``(1 + tanh(z / 2)) / 2`` rounds to 0 from z = -38 on, which
    made every pair's probability 0 (and the AUC 0.5) at ``--prior 1e-20``.
    """
    z = np.asarray(z, dtype=np.float64)
    small = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + small), small / (1.0 + small))


def prior_log_odds_shift(fitted_share: float, share: float) -> float:
    """What Bayes' rule adds to the log-odds of a probability fitted at ``fitted_share`` to hold
    at ``share``.

    Raises:
        ValueError: either share is not strictly between 0 and 1.
    """
    check_prior(share)
    if not 0.0 < fitted_share < 1.0:
        raise ValueError(f"the fit's share of same-artist pairs is {fitted_share}; it cannot be moved")
    return math.log(share / (1.0 - share)) - math.log(fitted_share / (1.0 - fitted_share))


def fit_calibration(
    similarity: ArrayLike,
    same: ArrayLike,
    *,
    iterations: int = 50,
    bounds: tuple[float, float] = (-1.0, 1.0),
) -> Calibration:
    """Fit Platt scaling on labelled pairs; the threshold is the similarity where P(same) = 1/2.

    A small L2 penalty keeps the fit finite when the pairs are perfectly separated. The threshold
    is clipped to ``bounds``, the range the scores can take (a cosine's, by default).

    Raises:
        ValueError: when there are no pairs or only one class.
    """
    s = np.asarray(similarity, dtype=np.float64).ravel()
    y = np.asarray(same).astype(np.float64).ravel()
    if s.size == 0 or s.size != y.size:
        raise ValueError(f"need equally many similarities and labels, got {s.size} and {y.size}")
    if y.min() == y.max():
        raise ValueError("calibration needs both same-artist and different-artist pairs")
    features = np.stack([s, np.ones_like(s)], axis=1)
    weights = np.zeros(2)
    penalty = 1e-3 * np.eye(2)
    penalty[1, 1] = 0.0  # do not shrink the intercept
    for _ in range(iterations):
        p = 0.5 * (1.0 + np.tanh(0.5 * (features @ weights)))
        gradient = features.T @ (p - y) + penalty @ weights
        hessian = (features * (p * (1 - p))[:, None]).T @ features + penalty + 1e-9 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-10:
            break
    # The verdict is "same" exactly where the probability reaches one half, so that a printed
    # verdict never contradicts the printed probability; a fit that does not rise with similarity
    # (no signal) falls back to the best-accuracy cut.
    if weights[0] > 0:
        # Clipped to the scores' range: a weak fit may reach one half only beyond it.
        threshold = float(np.clip(-weights[1] / weights[0], *bounds))
    else:
        _, threshold = best_threshold_accuracy(y, s)
    return Calibration(
        slope=float(weights[0]),
        intercept=float(weights[1]),
        threshold=float(threshold),
        positive_share=float(y.mean()),
        pairs=int(s.size),
    )
