"""Straightening a photographed painting: its quadrilateral warped to an upright rectangle.

`rectify` is what the views are cut from when a painting was found; `rectangle_size` is that
rectangle's size (the detection also uses it to refuse shapes no painting has); `quad_iou`
compares two outlines (the tests and the gallery measurement score the finder with it). OpenCV
is imported inside each function, so that importing this module costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from collections.abc import Sequence


def rectify(
    image: Image.Image, quad: Sequence[Sequence[float]] | np.ndarray, *, max_side: int | None = None
) -> Image.Image:
    """Warp the quadrilateral ``quad`` of ``image`` (in its pixels) to an upright rectangle.

    The rectangle's sides are the means of the quadrilateral's opposite sides, which is the
    painting's aspect ratio for the modest perspective of a photo taken facing it.

    Args:
        image: an RGB image.
        quad: top-left, top-right, bottom-right, bottom-left corners in ``image``'s pixels.
        max_side: when given, the image is first reduced (Pillow, anti-aliased) so that the
            rectangle's shorter side is not much above it; the warp itself then resamples at
            about 1:1 and aliases nothing.

    Returns:
        A new RGB image of at least 2 x 2 pixels.
    """
    import cv2

    corners = np.asarray(quad, dtype=np.float64).reshape(4, 2)
    width, height = rectangle_size(corners)
    if max_side is not None and min(width, height) > 2 * max_side:
        factor = 2 * max_side / min(width, height)
        reduced = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
        sx, sy = reduced[0] / image.width, reduced[1] / image.height
        image = image.resize(reduced, Image.Resampling.BICUBIC, reducing_gap=3.0)
        corners = corners * [sx, sy]
        width, height = rectangle_size(corners)
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(corners.astype(np.float32), target)
    pixels = np.asarray(image.convert("RGB"))
    warped = cv2.warpPerspective(
        pixels, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return Image.fromarray(warped)


def quad_iou(
    first: Sequence[Sequence[float]] | np.ndarray, second: Sequence[Sequence[float]] | np.ndarray
) -> float:
    """Intersection over union of two convex quadrilaterals (exact, by polygon clipping)."""
    import cv2

    a = np.asarray(first, dtype=np.float32).reshape(-1, 1, 2)
    b = np.asarray(second, dtype=np.float32).reshape(-1, 1, 2)
    inter, _ = cv2.intersectConvexConvex(a, b)
    union = cv2.contourArea(a) + cv2.contourArea(b) - inter
    return float(inter / union) if union > 0 else 0.0


def rectangle_size(corners: np.ndarray) -> tuple[int, int]:
    """Width and height of the rectangle a quadrilateral is warped to: means of opposite sides."""
    c = np.asarray(corners, dtype=np.float64).reshape(4, 2)
    width = (np.hypot(*(c[1] - c[0])) + np.hypot(*(c[2] - c[3]))) / 2
    height = (np.hypot(*(c[3] - c[0])) + np.hypot(*(c[2] - c[1]))) / 2
    return max(2, round(width)), max(2, round(height))
