"""The canvas inside a frame: the painted surface, for references that show it without one.

Used with ``edge="canvas"`` (`painting_finder`): the frame found is straightened
(`painting_perspective.rectify`) and searched, side by side, for the innermost straight line
parallel to it.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from painter_match.data.painting_edges import EDGE_THRESHOLD, gradients
from painter_match.data.painting_perspective import rectify


def canvas_inside(
    small: np.ndarray, frame: np.ndarray, short: int = 256, band: float = 0.3
) -> np.ndarray | None:
    """The canvas inside a frame: on the frame rectified, the innermost straight line parallel to
    each side, running at least 60% of its length, within the outer ``band`` of the frame.

    A frame's lips, mouldings and mat are such lines; a painting's own content rarely is, all
    round. Returns the canvas in ``small``'s pixels, or None when a side has no such line or the
    canvas would be under a fifth of the frame.
    """
    import cv2

    rectified = np.asarray(rectify(Image.fromarray(small), frame))
    rh, rw = rectified.shape[:2]
    factor = short / max(1, min(rh, rw))
    size = (max(16, round(rw * factor)), max(16, round(rh * factor)))
    rectified = cv2.resize(rectified, size, interpolation=cv2.INTER_AREA)
    height, width = rectified.shape[:2]
    lab = cv2.cvtColor(cv2.GaussianBlur(rectified, (5, 5), 0), cv2.COLOR_RGB2LAB).astype(np.float32)
    gx, gy = gradients(lab)
    across_rows = ((np.abs(gy) > EDGE_THRESHOLD) & (np.abs(gy) > np.abs(gx))).astype(np.uint8)
    across_cols = ((np.abs(gx) > EDGE_THRESHOLD) & (np.abs(gx) > np.abs(gy))).astype(np.uint8)
    across_rows = cv2.dilate(across_rows, np.ones((3, 1), np.uint8)).astype(np.float32)
    across_cols = cv2.dilate(across_cols, np.ones((1, 3), np.uint8)).astype(np.float32)
    rows = across_rows[:, int(0.1 * width) : int(0.9 * width)].mean(1)
    cols = across_cols[int(0.1 * height) : int(0.9 * height), :].mean(0)
    bh, bw = int(band * height), int(band * width)
    insets = [
        _innermost(rows[:bh]),
        _innermost(cols[::-1][:bw]),
        _innermost(rows[::-1][:bh]),
        _innermost(cols[:bw]),
    ]
    if any(d is None for d in insets):
        return None
    top, right, bottom, left = (float(d) for d in insets)  # type: ignore[arg-type]
    x0, x1 = left / width, 1.0 - right / width
    y0, y1 = top / height, 1.0 - bottom / height
    if (x1 - x0) * (y1 - y0) < 0.2:
        return None
    unit = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=np.float32)
    to_frame = cv2.getPerspectiveTransform(unit, frame.astype(np.float32))
    inner = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32).reshape(-1, 1, 2)
    return cv2.perspectiveTransform(inner, to_frame).reshape(4, 2).astype(np.float64)


def _innermost(
    profile: np.ndarray, strong: float = 0.6, prominence: float = 0.35, start: int = 2
) -> int | None:
    """The largest inset whose line is strong, a local maximum and stands out from the insets
    around it (by ``prominence`` over their median), or None. Brushwork crosses many rows with
    edges, so it can be "strong" everywhere; only a straight line stands out from its neighbours."""
    peaks = []
    for d in range(start, len(profile) - 1):
        if profile[d] < strong or profile[d] < profile[d - 1] or profile[d] < profile[d + 1]:
            continue
        around = np.concatenate([profile[max(0, d - 10) : max(0, d - 2)], profile[d + 3 : d + 11]])
        if len(around) and profile[d] - float(np.median(around)) >= prominence:
            peaks.append(d)
    return max(peaks) if peaks else None
