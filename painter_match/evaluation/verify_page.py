"""The ``verify`` page (`verify_report`): two paintings side by side, P(same artist), the verdict
and the pair's place on the calibration curve, with what the painting finder did to each
photograph."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from painter_match.data.painting_finder import FoundPainting
from painter_match.evaluation.page_parts import _UNSAID, _painting, _Unsaid, _write_page
from painter_match.evaluation.render import render
from painter_match.evaluation.svg_plots import calibration_svg
from painter_match.evaluation.thumbnails import QUERY_SIDE, ThumbnailCache


def verify_report(
    a: str | Path,
    b: str | Path,
    similarity: float,
    probability: float,
    threshold: float,
    calibration: tuple[float, float],
    out_path: str | Path,
    *,
    names: tuple[str, str] | None = None,
    title: str = "Same artist?",
    image_side: int = QUERY_SIDE,
    same: bool | None = None,
    paintings: Sequence[FoundPainting | None] | None = None,
) -> Path:
    """Two paintings side by side, P(same artist), the verdict, and the pair's place on the
    calibration curve; with ``paintings``, the outline the painting finder embedded drawn on each
    photograph (or "whole image" and why under it).

    Args:
        a, b: the two image files.
        similarity: their cosine similarity.
        probability: the calibrated P(same artist).
        threshold: the similarity at or above which the verdict is "same artist".
        calibration: ``(slope, intercept)`` of P = sigmoid(slope * similarity + intercept).
        out_path: the HTML file to write (replaced atomically).
        names: what the page calls the two paintings; by default their paths as given.
        title: the page's heading.
        image_side: the longest side of each painting, in pixels.
        same: the verdict as the caller decided it (`painter_match.SameArtist`: from the
            probability, which a reference may give); None: ``similarity >= threshold``.
        paintings: what the painting finder did to ``a`` and ``b`` (`SameArtist.paintings`;
            None in it: not looked at); None: nothing is said about it.

    Returns:
        ``out_path`` as a Path.

    Raises:
        ValueError: ``probability`` outside [0, 1] or a number that is not finite.
    """
    slope, intercept = (float(value) for value in calibration)
    for what, value in (("similarity", similarity), ("threshold", threshold), ("slope", slope)):
        if not math.isfinite(value):
            raise ValueError(f"{what} must be a finite number, got {value}")
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"probability must be within [0, 1], got {probability}")
    first_name, second_name = names if names is not None else (str(a), str(b))
    # One entry per painting to say what the finder did; none at all says nothing.
    found: list[FoundPainting | None | _Unsaid] = list(paintings) if paintings is not None else [_UNSAID] * 2
    if len(found) != 2:
        raise ValueError(f"paintings must hold the two paintings' records, got {len(found)}")
    cache = ThumbnailCache()
    if same is None:
        same = similarity >= threshold
    sign = "+" if intercept >= 0 else "−"
    curve = calibration_svg(slope, intercept, similarity, threshold)
    body = render(
        "verify",
        verdict_class="same" if same else "different",
        verdict="Same artist" if same else "Different artists",
        probability=f"{probability:.3f}",
        probability_exact=f"{probability:.6f}",
        similarity=f"{similarity:.4f}",
        similarity_exact=f"{similarity:.6f}",
        threshold=f"{threshold:.4f}",
        threshold_exact=f"{threshold:.6f}",
        # For readers who want it; the page leads with words an art historian would use.
        formula=f"sigmoid({slope:.4g} × similarity {sign} {abs(intercept):.4g})",
        first=_painting(Path(a), first_name, None, cache, image_side, found[0]),
        second=_painting(Path(b), second_name, None, cache, image_side, found[1]),
        curve=render(
            "plot",
            id="calibration",
            svg=curve,
            caption=f"How likely the same artist is (up) for each degree of likeness to the model "
            f"(across, from -1, nothing alike, to 1, identical); this pair ({similarity:.4f}) is marked, "
            f"and pairs on the shaded side of {threshold:.4f} are called the same artist.",
        ),
    )
    return _write_page(out_path, title, f"{first_name} and {second_name}", body)
