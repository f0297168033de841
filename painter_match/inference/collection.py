"""Adapting embeddings to the collection they are compared within: centring on its mean.

Every source of pictures (one museum's photography, a phone, a web collection's thumbnails) adds
its own offset to every embedding: lighting, white balance, the camera's and the scanner's
processing. Between two pictures of one source that shared offset dominates the cosine, so that
two unrelated paintings photographed alike look related. Subtracting the mean embedding of the
collection being compared removes what all its pictures share and leaves what tells them apart
(docs/real-photographs.md).

The mean is taken over the distinct paintings of the collection (an embeddings file; the images a
pairs file names), in float64 over the rows sorted by value, so it is the same whatever the order
of the rows (deterministic and order-independent to the last bit). Below `MIN_COLLECTION`
paintings a mean says more about the few paintings than about their source, so the embeddings are
compared as they are, with the model's own calibration, and the record says why.
numpy only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from painter_match.inference.calibration import Calibration

# Fewer distinct paintings than this and the collection's mean is mostly the paintings themselves.
MIN_COLLECTION = 20
METHODS = ("centre", "none")
# What a caller may ask for: the model's own default, or one method whatever the model says.
CHOICES = ("auto", "centre", "none")


@dataclass(frozen=True)
class CollectionPolicy:
    """How a model's embeddings are adapted to a collection by default, as its metadata states it.

    Attributes:
        method: ``"centre"`` or ``"none"``.
        min_paintings: the fewest distinct paintings a collection is centred on.
        calibration: centred similarity -> P(same artist), fitted by the trainer on its validation
            paintings centred on their own mean. Below ``min_paintings`` the model's plain
            calibration applies to the plain cosines.
    """

    method: str
    min_paintings: int
    calibration: Calibration

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "min_paintings": self.min_paintings,
            "calibration": self.calibration.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CollectionPolicy:
        """Read back `to_dict`'s document.

        Raises:
            ValueError: naming the field that is missing or out of range.
        """
        method = data.get("method")
        if method not in METHODS:
            raise ValueError(f"collection method must be one of {', '.join(METHODS)}, got {method!r}")
        least = data.get("min_paintings")
        if not isinstance(least, int) or isinstance(least, bool) or not 2 <= least <= 1_000_000:
            raise ValueError(
                f"collection min_paintings must be a whole number from 2 to 1000000, got {least!r}"
            )
        calibration = data.get("calibration")
        if not isinstance(calibration, Mapping):
            raise ValueError(f"collection calibration must be an object, got {calibration!r}")
        return cls(str(method), least, Calibration.from_dict(dict(calibration)))


@dataclass(frozen=True)
class CollectionAdaptation:
    """What was done to a collection's embeddings before they were compared.

    Attributes:
        method: ``"centre"`` (the collection's mean subtracted, then L2-normalised again) or
            ``"none"``.
        paintings: the number of distinct paintings the mean was taken over.
        reason: why ``none`` (asked for, too few paintings), or ``""``.
        mean: the mean embedding subtracted (float32 [D]), or None.
    """

    method: str
    paintings: int
    reason: str = ""
    mean: np.ndarray | None = None

    @property
    def applied(self) -> bool:
        return self.mean is not None

    def apply(self, embeddings: np.ndarray) -> np.ndarray:
        """``embeddings`` [N, D] as this adaptation compares them (unit rows, float32)."""
        if self.mean is None:
            return np.asarray(embeddings, dtype=np.float32)
        return centre_on(embeddings, self.mean)

    def record(self) -> dict[str, object]:
        """What `--json` (``collection``) and `evaluate` say was done."""
        out: dict[str, object] = {
            "method": self.method if self.applied else "none",
            "paintings": self.paintings,
        }
        if self.reason:
            out["reason"] = self.reason
        return out


def collection_mean(embeddings: np.ndarray) -> np.ndarray:
    """The mean of ``embeddings`` [N, D], independent of the rows' order to the last bit (float32 [D])."""
    rows = np.asarray(embeddings, dtype=np.float32)
    if rows.ndim != 2 or len(rows) == 0:
        raise ValueError(f"expected a non-empty [N, D] array of embeddings, got shape {rows.shape}")
    # Summed in one fixed order (the rows sorted by value), so that a shuffled file gives the same bits.
    order = np.lexsort(rows.T[::-1])
    total = rows[order].astype(np.float64).sum(axis=0)
    return (total / len(rows)).astype(np.float32)


def centre_on(embeddings: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """``embeddings`` minus ``mean``, each row L2-normalised again (a row equal to the mean stays zero)."""
    centred = np.asarray(embeddings, dtype=np.float32) - np.asarray(mean, dtype=np.float32)
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    return (centred / np.maximum(norms, 1e-12)).astype(np.float32)


def adapt_to_collection(
    embeddings: np.ndarray, method: str = "centre", *, min_paintings: int = MIN_COLLECTION
) -> CollectionAdaptation:
    """Decide how a collection's embeddings are compared: centred on its mean, or as they are.

    Args:
        embeddings: float [N, D], one row per distinct painting of the collection.
        method: ``"centre"`` or ``"none"``.
        min_paintings: fewer distinct paintings than this fall back to ``"none"``.

    Raises:
        ValueError: an unknown method.
    """
    if method not in METHODS:
        raise ValueError(f"unknown collection adaptation {method!r}; choose from {', '.join(METHODS)}")
    count = len(embeddings)
    if method == "none":
        return CollectionAdaptation("none", count, reason="not asked for")
    if count < min_paintings:
        return CollectionAdaptation(
            "none", count, reason=f"{count} paintings, fewer than the {min_paintings} a collection needs"
        )
    return CollectionAdaptation("centre", count, mean=collection_mean(embeddings))


def adapt_for_model(
    embeddings: np.ndarray,
    policy: CollectionPolicy | None,
    plain: Calibration,
    choice: str = "auto",
) -> tuple[CollectionAdaptation, Calibration]:
    """How a model's embeddings of one collection are compared, and the calibration that goes with it.

    Args:
        embeddings: [N, D], one row per distinct painting of the collection.
        policy: the model's default (`ModelInfo.collection`), or None for a model without one.
        plain: the model's calibration of plain cosines.
        choice: ``"auto"`` (the model's policy; none without one), ``"centre"`` or ``"none"``.

    Returns:
        The adaptation (apply it to every embedding compared) and the calibration its similarities
        take: the policy's centred calibration when centring applied, else ``plain``. A model
        without a centred calibration that is centred on request keeps ``plain``, and the record
        says so: its AUC holds, its probabilities are not calibrated for centred cosines.

    Raises:
        ValueError: an unknown choice.
    """
    if choice not in CHOICES:
        raise ValueError(f"unknown collection adaptation {choice!r}; choose from {', '.join(CHOICES)}")
    method = (policy.method if policy is not None else "none") if choice == "auto" else choice
    least = policy.min_paintings if policy is not None else MIN_COLLECTION
    adaptation = adapt_to_collection(embeddings, method, min_paintings=least)
    if choice == "auto" and policy is None:
        adaptation = CollectionAdaptation(
            "none", len(embeddings), reason="the model states no collection adaptation"
        )
    if adaptation.applied and policy is not None:
        return adaptation, policy.calibration
    if adaptation.applied:
        return (
            CollectionAdaptation(
                adaptation.method,
                adaptation.paintings,
                reason="the model has no calibration for centred similarities: probabilities are uncalibrated",
                mean=adaptation.mean,
            ),
            plain,
        )
    return adaptation, plain
