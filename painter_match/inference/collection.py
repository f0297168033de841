"""Adapting embeddings to the collection they are compared within: centring on its mean.

Every source of pictures (one museum's photography, a phone, a web collection's thumbnails) adds
its own offset to every embedding: lighting, white balance, the camera's and the scanner's
processing. Between two pictures of one source that shared offset dominates the cosine, so that
two unrelated paintings photographed alike look related. Subtracting the mean embedding of the
collection being compared removes what all its pictures share and leaves what tells them apart
(docs/real-photographs.md).

A model may also state its centred calibration in the collection's own units
(``units="collection"``): a similarity is read as how many standard deviations it lies above the
collection's typical pair (the mean and spread of the similarities of all its pairs, which in a
collection of many artists are nearly all different-artist pairs). Sources differ in how widely
unrelated paintings spread; read in those units the verdict's threshold travels from the source
the calibration was fitted on to others (docs/real-photographs.md, "Verdicts").

A model whose embedding joins parts may weigh how much of each part's mean is subtracted
(``centre_weights``): the untrained ImageNet part of the real-paintings model keeps half of its
mean, since what all of a collection's pictures share there is partly the painting style the part
was added for (docs/real-photographs.md, "Centring the ImageNet part by half").

The mean is taken over the distinct paintings of the collection (an embeddings file; the images a
pairs file names), in float64 over the rows sorted by value, so it is the same whatever the order
of the rows (deterministic and order-independent to the last bit). Below `MIN_COLLECTION`
paintings a mean says more about the few paintings than about their source, so the embeddings are
compared as they are, with the model's own calibration, and the record says why.
numpy only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from painter_match.inference.calibration import Calibration

# Fewer distinct paintings than this and the collection's mean is mostly the paintings themselves.
MIN_COLLECTION = 20
METHODS = ("centre", "none")
# What a policy's calibration reads: plain centred cosines, or them in the collection's own units.
UNITS = ("cosine", "collection")
# The pair statistics are taken over at most this many of the collection's paintings (evenly
# spaced in the sorted rows, so still order-independent): millions of pairs pin them down.
MAX_STATISTICS_ROWS = 4096
# What a caller may ask for: the model's own default, or one method whatever the model says.
CHOICES = ("auto", "centre", "none")
# Runs of (dimensions, share of their mean subtracted) covering an embedding, first to last.
CentreWeights = tuple[tuple[int, float], ...]


def centre_weight_vector(weights: CentreWeights, dim: int) -> np.ndarray:
    """The share of the mean subtracted in each of ``dim`` dimensions (float32 [dim]).

    Raises:
        ValueError: the runs do not cover exactly ``dim`` dimensions.
    """
    covered = sum(count for count, _ in weights)
    if covered != dim:
        raise ValueError(
            f"the model's centre_weights cover {covered} dimensions but its embeddings have {dim}; "
            "re-export the model"
        )
    return np.concatenate([np.full(count, weight, np.float32) for count, weight in weights])


def _centre_weights(value: Any) -> CentreWeights:
    """Read metadata's ``[[count, weight], ...]``.

    Raises:
        ValueError: naming what is wrong with it.
    """
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(
            f"collection centre_weights must be a non-empty list of [count, weight], got {value!r}"
        )
    runs = []
    for item in value:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise ValueError(f"collection centre_weights entries must be [count, weight], got {item!r}")
        count, weight = item
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError(f"a centre_weights count must be a whole number from 1, got {count!r}")
        if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not 0.0 <= weight <= 1.0:
            raise ValueError(f"a centre_weights weight must be a number from 0 to 1, got {weight!r}")
        runs.append((count, float(weight)))
    return tuple(runs)


@dataclass(frozen=True)
class CollectionPolicy:
    """How a model's embeddings are adapted to a collection by default, as its metadata states it.

    Attributes:
        method: ``"centre"`` or ``"none"``.
        min_paintings: the fewest distinct paintings a collection is centred on.
        calibration: centred similarity -> P(same artist), fitted by the trainer on its validation
            paintings. Below ``min_paintings`` the model's plain calibration applies to the plain
            cosines.
        units: what ``calibration`` reads: ``"cosine"``, the centred cosine itself, or
            ``"collection"``, the centred cosine standardised by the collection's pair statistics
            (`PairStatistics`). Absent from models made before it existed: ``"cosine"``.
        centre_weights: how much of the mean each run of dimensions has subtracted (`CentreWeights`);
            empty (the whole mean) in models that do not say.
    """

    method: str
    min_paintings: int
    calibration: Calibration
    units: str = "cosine"
    centre_weights: CentreWeights = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "method": self.method,
            "min_paintings": self.min_paintings,
            "calibration": self.calibration.to_dict(),
            "units": self.units,
        }
        if self.centre_weights:
            out["centre_weights"] = [[count, weight] for count, weight in self.centre_weights]
        return out

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
        units = data.get("units", "cosine")
        if units not in UNITS:
            raise ValueError(f"collection units must be one of {', '.join(UNITS)}, got {units!r}")
        weights = _centre_weights(data["centre_weights"]) if "centre_weights" in data else ()
        return cls(str(method), least, Calibration.from_dict(dict(calibration)), str(units), weights)


@dataclass(frozen=True)
class PairStatistics:
    """The mean and standard deviation of the similarities of all pairs of a collection.

    Attributes:
        mean, std: over every pair of distinct paintings (of at most `MAX_STATISTICS_ROWS`).
        paintings: how many paintings they were taken over.
    """

    mean: float
    std: float
    paintings: int

    def calibration_on_cosines(self, calibration: Calibration) -> Calibration:
        """``calibration`` (which reads standardised similarities) as one that reads the cosines:
        ``sigmoid(slope * (s - mean) / std + intercept)``, the threshold moved alike."""
        slope = calibration.slope / self.std
        return Calibration(
            slope=float(slope),
            intercept=float(calibration.intercept - slope * self.mean),
            threshold=float(self.mean + self.std * calibration.threshold),
            positive_share=calibration.positive_share,
            pairs=calibration.pairs,
        )


def pair_statistics(embeddings: np.ndarray) -> PairStatistics:
    """`PairStatistics` of the cosines between the rows of ``embeddings`` [N, D] (unit rows, N >= 2).

    From the Gram matrix in float64, not the N x N similarities: the sum of all pair similarities
    is |sum of rows|^2 minus the rows' own, and of their squares ||E^T E||^2 minus the rows' own.
    The rows are sorted by value first (and thinned evenly to `MAX_STATISTICS_ROWS`), so the
    statistics do not depend on the rows' order.

    Raises:
        ValueError: fewer than 2 rows, or a collection whose pairs are all alike (std 0).
    """
    rows = np.asarray(embeddings, dtype=np.float32)
    if rows.ndim != 2 or len(rows) < 2:
        raise ValueError(f"pair statistics need an [N, D] array of at least 2 rows, got shape {rows.shape}")
    rows = rows[np.lexsort(rows.T[::-1])]
    if len(rows) > MAX_STATISTICS_ROWS:
        rows = rows[np.linspace(0, len(rows) - 1, MAX_STATISTICS_ROWS).round().astype(np.int64)]
    a = rows.astype(np.float64)
    n = len(a)
    pairs = n * (n - 1)
    own = (a * a).sum(axis=1)
    total = a.sum(axis=0)
    mean = (total @ total - own.sum()) / pairs
    gram = a.T @ a
    second = ((gram * gram).sum() - (own * own).sum()) / pairs
    std = float(np.sqrt(max(second - mean * mean, 0.0)))
    if not std > 1e-9:
        raise ValueError(
            f"the {n} paintings' pair similarities are all {mean:.4f}: nothing to standardise by"
        )
    return PairStatistics(float(mean), std, n)


@dataclass(frozen=True)
class CollectionAdaptation:
    """What was done to a collection's embeddings before they were compared.

    Attributes:
        method: ``"centre"`` (the collection's mean subtracted, then L2-normalised again) or
            ``"none"``.
        paintings: the number of distinct paintings the mean was taken over.
        reason: why ``none`` (asked for, too few paintings), or ``""``.
        mean: the mean embedding subtracted (float32 [D]), or None.
        statistics: the centred collection's `PairStatistics` when the calibration reads the
            collection's units, else None.
        centre_weights: the shares of the collection's mean that ``mean`` holds, run by run
            (empty: all of it).
    """

    method: str
    paintings: int
    reason: str = ""
    mean: np.ndarray | None = None
    statistics: PairStatistics | None = None
    centre_weights: CentreWeights = ()

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
        if self.applied and self.centre_weights:
            out["centre_weights"] = [[count, weight] for count, weight in self.centre_weights]
        if self.statistics is not None:
            out["units"] = "collection"
            out["pair_mean"] = round(self.statistics.mean, 6)
            out["pair_std"] = round(self.statistics.std, 6)
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


def centring_mean(embeddings: np.ndarray, centre_weights: CentreWeights = ()) -> np.ndarray:
    """What centring on the collection ``embeddings`` subtracts: its mean (`collection_mean`),
    each run of dimensions scaled by its share in ``centre_weights`` (empty: all of it).

    Raises:
        ValueError: no rows, or weights that do not cover the embeddings' dimensions.
    """
    mean = collection_mean(embeddings)
    if not centre_weights:
        return mean
    return (mean * centre_weight_vector(centre_weights, len(mean))).astype(np.float32)


def centre_on(embeddings: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """``embeddings`` minus ``mean``, each row L2-normalised again (a row equal to the mean stays zero)."""
    centred = np.asarray(embeddings, dtype=np.float32) - np.asarray(mean, dtype=np.float32)
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    return (centred / np.maximum(norms, 1e-12)).astype(np.float32)


def adapt_to_collection(
    embeddings: np.ndarray,
    method: str = "centre",
    *,
    min_paintings: int = MIN_COLLECTION,
    centre_weights: CentreWeights = (),
) -> CollectionAdaptation:
    """Decide how a collection's embeddings are compared: centred on its mean, or as they are.

    Args:
        embeddings: float [N, D], one row per distinct painting of the collection.
        method: ``"centre"`` or ``"none"``.
        min_paintings: fewer distinct paintings than this fall back to ``"none"``.
        centre_weights: the share of the mean subtracted, run by run of dimensions (empty: all).

    Raises:
        ValueError: an unknown method, or ``centre_weights`` that do not cover D dimensions.
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
    mean = centring_mean(embeddings, centre_weights)
    return CollectionAdaptation("centre", count, mean=mean, centre_weights=centre_weights)


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
        take: the policy's centred calibration when centring applied (read in the collection's
        units when the policy says so: the returned one takes the centred cosines), else ``plain``. A model
        without a centred calibration that is centred on request keeps ``plain``, and the record
        says so: its AUC holds, its probabilities are not calibrated for centred cosines.

    Raises:
        ValueError: an unknown choice.
    """
    if choice not in CHOICES:
        raise ValueError(f"unknown collection adaptation {choice!r}; choose from {', '.join(CHOICES)}")
    method = (policy.method if policy is not None else "none") if choice == "auto" else choice
    least = policy.min_paintings if policy is not None else MIN_COLLECTION
    weights = policy.centre_weights if policy is not None else ()
    adaptation = adapt_to_collection(embeddings, method, min_paintings=least, centre_weights=weights)
    if choice == "auto" and policy is None:
        adaptation = CollectionAdaptation(
            "none", len(embeddings), reason="the model states no collection adaptation"
        )
    if adaptation.applied and policy is not None:
        if policy.units == "cosine":
            return adaptation, policy.calibration
        try:
            statistics = pair_statistics(adaptation.apply(embeddings))
        except ValueError:
            # Every painting the same picture, or as good as: no spread to read the units in.
            reason = "its paintings' pairs are all alike, so the collection has no units to read"
            return CollectionAdaptation("none", len(embeddings), reason=reason), plain
        adapted = replace(adaptation, statistics=statistics)
        return adapted, statistics.calibration_on_cosines(policy.calibration)
    if adaptation.applied:
        return (
            CollectionAdaptation(
                adaptation.method,
                adaptation.paintings,
                reason="the model has no calibration for centred similarities: probabilities are uncalibrated",
                mean=adaptation.mean,
                centre_weights=adaptation.centre_weights,
            ),
            plain,
        )
    return adaptation, plain
