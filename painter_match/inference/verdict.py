"""The answer to "did one artist paint both?": `SameArtist`, what ``verify`` and
`Model.same_artist` give, and where its verdict flips (`decision_threshold`).

The verdict is read off the probability it is printed with (same artist when P >= 0.5), so the
two never disagree. The model's stored ``Calibration.threshold`` is the best-accuracy cut on its
calibration pairs, which need not be where the fitted probability crosses one half (the packaged
model: 0.2499 against 0.2692), so a pair between the two would have been called the same artist
at P < 0.5; the threshold given with a verdict is therefore the crossing itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from painter_match.data.painting_finder import FoundPainting
from painter_match.data.views import Views
from painter_match.inference.calibration import Calibration


@dataclass(frozen=True)
class SameArtist:
    """What `Model.same_artist` (and ``painter-match verify``) found about two paintings.

    The verdict is read off the probability (same artist when P >= 0.5), so the two never
    disagree; ``threshold`` is the cosine similarity at which the model's calibration (moved to
    ``prior``) reaches one half, the cut the verdict makes on the cosine alone.

    Attributes:
        probability: P(same artist): the calibrated cosine, or with a reference its pair model's.
        similarity: the cosine similarity of the two embeddings, in [-1, 1].
        threshold: the similarity at which the calibrated cosine gives P = 0.5.
        verdict: ``"same artist"`` or ``"different artists"``.
        prior: the share of same-artist pairs the probability assumes when one was given.
        calibration: the cosine's calibration, moved to ``prior`` (the curve a report draws).
        views: the view policy the paintings were embedded with.
        reference: the reference's file (or ``"a reference"``), or None without one.
        artists: with a reference, each painting's most probable reference artists
            (`painter_match.inference.reference.top_artists`); empty without one.
        collection: the collection adaptation's record (`painter_match.inference.collection`).
        paintings: what was done to find the painting in each of the two images
            (`painting_finder.FoundPainting`: the quadrilateral embedded, or the whole image and
            why); None for an image nobody looked at (``find_painting`` off).
        find_painting, painting_edge: the painting finder's options the two were embedded with.
    """

    probability: float
    similarity: float
    threshold: float
    verdict: str
    prior: float | None
    calibration: Calibration
    views: Views
    reference: str | None = None
    artists: tuple[Mapping[str, Any], ...] = ()
    collection: Mapping[str, Any] | None = None
    paintings: tuple[FoundPainting | None, ...] = ()
    find_painting: str = "off"
    painting_edge: str = "frame"

    @property
    def same_artist(self) -> bool:
        """True when the verdict is "same artist"."""
        return self.verdict == "same artist"

    def to_dict(self) -> dict[str, object]:
        """The JSON-ready fields ``verify --json`` prints; ``paintings`` holds each image's
        `painting_records.record_json` (``quad`` in the original image's pixels, or null and the
        reason it was embedded whole)."""
        from painter_match.inference.painting_records import record_json

        return {
            "similarity": round(self.similarity, 6),
            "probability": round(self.probability, 6),
            "threshold": self.threshold,
            "same_artist": self.same_artist,
            "prior": self.prior,
            "views": 1 + self.views.crops,
            "collection": dict(self.collection) if self.collection is not None else None,
            "find_painting": self.find_painting,
            "painting_edge": self.painting_edge if self.find_painting != "off" else None,
            "paintings": [
                record_json(found, self.find_painting, self.painting_edge) for found in self.paintings
            ],
            **(
                {"reference": self.reference, "reference_artists": list(self.artists)} if self.artists else {}
            ),
        }

    def __str__(self) -> str:
        basis = (
            f"with the reference {self.reference}"
            if self.reference is not None
            else f"threshold {self.threshold:.4f}"
        )
        prior = f" at a prior share of same-artist pairs of {self.prior:g}" if self.prior is not None else ""
        return (
            f"{self.verdict}: P(same artist) = {self.probability:.3f} "
            f"(cosine similarity {self.similarity:.4f}, {basis}){prior}"
        )


def decision_threshold(calibration: Calibration) -> float:
    """The similarity at which ``calibration`` gives P(same artist) = 0.5: where the verdict flips.

    A calibration that does not rise with similarity has no such point; its stored threshold is
    given then.
    """
    if calibration.slope > 0:
        return float(-calibration.intercept / calibration.slope)
    return float(calibration.threshold)
