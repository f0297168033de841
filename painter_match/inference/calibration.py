"""Turn a cosine similarity into a probability of "same artist", and pick the decision threshold.

Fitted by the trainer on validation pairs of artists it never trained on, stored with the
checkpoint, carried into the ONNX metadata by export, and applied by the CLI: numpy only, so the
inference path needs no torch. The model is Platt scaling, p = sigmoid(slope * s + intercept),
fitted by Newton's method on the log-loss.
"""

from __future__ import annotations

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
            best-accuracy cut on the calibration pairs).
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
        return (0.5 * (1.0 + np.tanh(0.5 * z))).astype(np.float32)  # a sigmoid that never overflows

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
            values[name] = float(value)
        return cls(
            slope=values["slope"],
            intercept=values["intercept"],
            threshold=values["threshold"],
            positive_share=values["positive_share"],
            pairs=int(values["pairs"]),
        )


def fit_calibration(similarity: ArrayLike, same: ArrayLike, *, iterations: int = 50) -> Calibration:
    """Fit Platt scaling and the best-accuracy threshold on labelled pairs.

    A small L2 penalty keeps the fit finite when the pairs are perfectly separated.

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
    _, threshold = best_threshold_accuracy(y, s)
    return Calibration(
        slope=float(weights[0]),
        intercept=float(weights[1]),
        threshold=float(threshold),
        positive_share=float(y.mean()),
        pairs=int(s.size),
    )
