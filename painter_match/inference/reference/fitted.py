"""What `painter_match.inference.reference.fit` fits on a reference's labels, and its file stores.

A `Combiner` holds the settings of the artist posterior (how many neighbours, the softmax
temperature, the "unknown artist" pseudo-neighbour) and the coefficients of the pair model over
`FEATURES`; a `Projection` is the linear map, learnt from the labels, in which paintings of one
artist lie closer together (neighbours and pair cosines are taken there). Both check their values
as they are made, so a damaged or hand-edited reference file is refused as it loads. The
`painter_match.inference.reference.set.Reference` carries them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from painter_match.inference.calibration import prior_log_odds_shift

# The least similarity at which a reference painting is taken for the query itself (a copy, a
# re-encoding, a resize) and not counted as evidence; `reference.fit` raises it for a model whose
# distinct paintings come closer than that (see `NEAR_DUPLICATE_QUANTILE`). Measured on `make
# demo`'s model (raw embeddings, 80 paintings each saved as PNG, JPEG q60 and q90, and resized to
# 75% and 50%): the copies score 0.937-1.0 against their original (median 0.998, 74% at 0.995 or
# more), while 11.5% of its 1,281 paintings have a distinct painting at 0.995 or more and the
# closest two score 0.9993. No fixed similarity separates the two for such a model: the byte
# digest is what catches the same file, and the threshold only keeps the closest copies out.
NEAR_DUPLICATE = 0.995
# The fitted threshold is at least this quantile of the held-out paintings' similarity to their
# nearest distinct reference painting: at most 1 in 1,000 of them loses a neighbour to the rule.
NEAR_DUPLICATE_QUANTILE = 0.999

_PROJECTION_ROWS = 8192  # rows projected at once by `Projection.apply`

# The most neighbours (and kept artists) a combiner may ask for: `reference.fit` searches at most 40,
# and a query's neighbours cost ``k`` x 8 bytes each.
MAX_K = 1024
# float32 rounding lets a fitted near-duplicate threshold sit a hair above 1.
_COSINE_SLACK = 1e-5

# Settings of the posterior before any fit; the combiner stores the fitted ones.
DEFAULT_K = 20
DEFAULT_KEEP = 4
DEFAULT_TEMPERATURE = 0.05
DEFAULT_UNKNOWN_SIMILARITY = 0.7

# The pair features of the combiner, in the order of its coefficients (computed by
# `painter_match.inference.reference.pair_features`). Changing this list makes every fitted
# reference refuse to load until it is fitted again. The sum and minimum of the two paintings'
# best reference similarities and the cosine normalised by each one's neighbours (adaptive
# s-norm) were dropped: on real paintings of artists the encoder never saw they lowered the
# unseen-pair AUC (0.899 against 0.903 for the cosine alone; 0.8925 with them) and on `make demo`
# they did not help (docs/reference-scoring.md).
FEATURES = (
    "bias",
    "cosine",
    "same_reference_artist",
    "log_same_reference_artist",
    "unknown_sum",
    "unknown_product",
    "cosine_x_unknown_product",
)


@dataclass(frozen=True)
class Combiner:
    """How a pair's features become P(same artist): the posterior's settings and the logistic model.

    Attributes:
        k: reference neighbours per painting.
        temperature: softmax temperature over neighbour similarities.
        unknown_similarity: the similarity of the pseudo-neighbour that stands for "an artist
            not in the reference": a painting whose neighbours are all well below it is unknown.
        keep: artists kept per painting's posterior (the rest is pooled as "other").
        coefficients: one per entry of ``features``.
        features: the feature names the coefficients belong to (`FEATURES`).
        near_duplicate: the similarity from which a reference painting is the query itself.
        shrinkage: of the `Projection` fitted with it, or None for the embeddings as they are.
        positive_share: share of same-artist pairs in the fit; probabilities assume it.
        pairs: pairs the fit saw.
        report: figures of the fit (AUCs of held-out pairs with and without the reference).
    """

    k: int = DEFAULT_K
    temperature: float = DEFAULT_TEMPERATURE
    unknown_similarity: float = DEFAULT_UNKNOWN_SIMILARITY
    keep: int = DEFAULT_KEEP
    coefficients: tuple[float, ...] = ()
    features: tuple[str, ...] = FEATURES
    near_duplicate: float = NEAR_DUPLICATE
    shrinkage: float | None = None
    positive_share: float = 0.0
    pairs: int = 0
    report: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Every setting in range, so that a damaged or hand-edited file is refused as it loads: a k
        # of 10^9 asked numpy for 186 GiB of neighbours.
        if not 1 <= self.k <= MAX_K or not 1 <= self.keep <= MAX_K:
            raise ValueError(f"k and keep must be from 1 to {MAX_K}, got k={self.k}, keep={self.keep}")
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise ValueError(f"temperature must be a positive number, got {self.temperature}")
        if not -1.0 <= self.unknown_similarity <= 1.0 + _COSINE_SLACK:
            raise ValueError(
                f"unknown_similarity is a cosine similarity, from -1 to 1, got {self.unknown_similarity}"
            )
        if not -1.0 <= self.near_duplicate:  # above 1: only the same file is taken for the painting
            raise ValueError(f"near_duplicate is a cosine similarity, -1 or more, got {self.near_duplicate}")
        if self.shrinkage is not None and not (math.isfinite(self.shrinkage) and self.shrinkage > 0):
            raise ValueError(f"shrinkage must be a positive number or none, got {self.shrinkage}")
        if not 0.0 <= self.positive_share < 1.0:
            raise ValueError(f"positive_share must be a share from 0 to 1, got {self.positive_share}")
        if self.pairs < 0:
            raise ValueError(f"pairs must be 0 or more, got {self.pairs}")
        if not all(math.isfinite(c) for c in self.coefficients):
            raise ValueError(f"coefficients must be finite, got {list(self.coefficients)}")
        if tuple(self.features) != FEATURES:
            raise ValueError(
                f"the combiner was fitted on features {list(self.features)}, this version computes "
                f"{list(FEATURES)}; fit the reference again"
            )
        if len(self.coefficients) != len(FEATURES):
            raise ValueError(
                f"coefficients must be [{len(FEATURES)}] (one per feature), got {len(self.coefficients)}"
            )

    def at_prior(self, share: float) -> Combiner:
        """The same pair model for pairs of which ``share`` are by one artist: Bayes' rule adds
        log-odds(share) - log-odds(fitted share) to the bias (`Calibration.at_prior` for the cosine).

        Raises:
            ValueError: ``share`` is not strictly between 0 and 1, or the fit recorded no share.
        """
        shift = prior_log_odds_shift(self.positive_share, share)
        bias, *rest = self.coefficients
        return replace(self, coefficients=(bias + shift, *rest), positive_share=float(share))

    def to_dict(self) -> dict[str, object]:
        return {
            "k": self.k,
            "temperature": self.temperature,
            "unknown_similarity": self.unknown_similarity,
            "keep": self.keep,
            "coefficients": list(self.coefficients),
            "features": list(self.features),
            "near_duplicate": self.near_duplicate,
            "shrinkage": self.shrinkage,
            "positive_share": self.positive_share,
            "pairs": self.pairs,
            "report": dict(self.report),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Combiner:
        """Read back what `to_dict` wrote.

        Raises:
            ValueError: naming a missing or mistyped field.
        """
        report = data.get("report") or {}
        if not isinstance(report, dict):
            raise ValueError(f"combiner field 'report' must be a mapping, got {report!r}")
        shrinkage = data.get("shrinkage")
        return cls(
            k=_count(data.get("k"), "k"),
            temperature=_number(data.get("temperature"), "temperature"),
            unknown_similarity=_number(data.get("unknown_similarity"), "unknown_similarity"),
            keep=_count(data.get("keep"), "keep"),
            coefficients=tuple(_number(c, "coefficients") for c in _list(data, "coefficients")),
            features=tuple(str(f) for f in _list(data, "features")),
            near_duplicate=_number(data.get("near_duplicate"), "near_duplicate"),
            shrinkage=None if shrinkage is None else _number(shrinkage, "shrinkage"),
            positive_share=_number(data.get("positive_share"), "positive_share"),
            pairs=_count(data.get("pairs"), "pairs"),
            report={str(key): _number(value, "report") for key, value in report.items()},
        )


def _number(value: object, name: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"combiner field {name!r} must hold finite numbers, got {value!r}")
    return float(value)


def _count(value: object, name: str) -> int:
    number = _number(value, name)
    if number != int(number):
        raise ValueError(f"combiner field {name!r} must be a whole number, got {value!r}")
    return int(number)


def _list(data: Mapping[str, object], name: str) -> list[object]:
    value = data.get(name)
    if not isinstance(value, list):
        raise ValueError(f"combiner field {name!r} must be a list, got {value!r}")
    return value


@dataclass(frozen=True)
class Projection:
    """A linear map of the embeddings, then unit length: ``normalise((x - mean) @ matrix)``.

    Attributes:
        mean: float32 ``[D]``.
        matrix: float32 ``[D, D]``.
    """

    mean: np.ndarray
    matrix: np.ndarray

    def __post_init__(self) -> None:
        dim = np.shape(self.mean)[0] if np.ndim(self.mean) == 1 else -1
        if dim < 1 or np.shape(self.matrix) != (dim, dim):
            raise ValueError(
                f"a projection needs mean [D] and matrix [D, D], got {np.shape(self.mean)} and "
                f"{np.shape(self.matrix)}"
            )
        for name, values in (("mean", self.mean), ("matrix", self.matrix)):
            if not np.issubdtype(np.asarray(values).dtype, np.number) or not np.isfinite(values).all():
                raise ValueError(f"the projection's {name} must hold finite numbers")

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """The projected unit vectors, float32 ``[N, D]``.

        In blocks of rows, so that the temporaries stay small beside the result (the whole
        reference at once held three more copies of it: 250 MB at Kaggle's size).
        """
        x = np.asarray(vectors, dtype=np.float32)
        out = np.empty((x.shape[0], self.matrix.shape[1]), dtype=np.float32)
        for start in range(0, x.shape[0], _PROJECTION_ROWS):
            block = (x[start : start + _PROJECTION_ROWS] - self.mean) @ self.matrix
            block /= np.maximum(np.linalg.norm(block, axis=1, keepdims=True), np.float32(1e-12))
            out[start : start + _PROJECTION_ROWS] = block
        return out
