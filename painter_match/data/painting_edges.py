"""Straight lines in a photograph, and where a real edge runs along each of them.

The painting finder builds its outlines from these: `straight_lines` finds near-horizontal and
near-vertical lines (Hough segments of an edge map, collinear ones merged), `edge_profile`
counts, position by position along a line, where an edge crosses it, and `border_profile` does
the same for the picture's own borders. `gradients` and `EDGE_THRESHOLD` define what an edge is,
for these and for the finder's wall and canvas checks.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# A side "runs along an edge" where the Lab gradient across it (Sobel, 3x3, on the channel with
# the largest gradient) is above this and larger than the gradient along it: about a step of 8
# grey levels, which a frame against a wall always makes and a soft shadow does not.
EDGE_THRESHOLD = 30.0
# Near-horizontal and near-vertical, in degrees: perspective of a photo taken facing the wall
# tilts a painting's sides by less than this.
_HORIZONTAL_TILT = 25.0
_VERTICAL_TILT = 20.0


def gradients(lab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sobel gradients of the Lab channel whose gradient is largest, pixel by pixel."""
    import cv2

    gx = np.stack([cv2.Sobel(lab[:, :, c], cv2.CV_32F, 1, 0, ksize=3) for c in range(3)])
    gy = np.stack([cv2.Sobel(lab[:, :, c], cv2.CV_32F, 0, 1, ksize=3) for c in range(3)])
    strongest = (gx * gx + gy * gy).argmax(0)[None]
    return np.take_along_axis(gx, strongest, 0)[0], np.take_along_axis(gy, strongest, 0)[0]


def straight_lines(edges: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Near-horizontal and near-vertical infinite lines ``(a, b, c)``, ``ax + by + c = 0`` with
    ``(a, b)`` a unit normal, from Hough segments of ``edges``, collinear ones merged, longest first."""
    import cv2

    short = min(edges.shape)
    found = cv2.HoughLinesP(
        edges,
        1,
        np.pi / 360,
        threshold=max(20, short // 10),
        minLineLength=max(8, short // 8),
        maxLineGap=max(3, short // 80),
    )
    horizontal: list[tuple[np.ndarray, float, np.ndarray]] = []
    vertical: list[tuple[np.ndarray, float, np.ndarray]] = []
    if found is None:
        return [], []
    for x1, y1, x2, y2 in found.reshape(-1, 4).astype(np.float64):
        angle = math.degrees(math.atan2(y2 - y1, x2 - x1)) % 180.0
        length = math.hypot(x2 - x1, y2 - y1)
        line = np.cross([x1, y1, 1.0], [x2, y2, 1.0])
        line = line / max(1e-12, math.hypot(line[0], line[1]))
        ends = np.array([[x1, y1, 1.0], [x2, y2, 1.0]])
        if angle < _HORIZONTAL_TILT or angle > 180.0 - _HORIZONTAL_TILT:
            horizontal.append((line, length, ends))
        elif abs(angle - 90.0) < _VERTICAL_TILT:
            vertical.append((line, length, ends))
    return _merge(horizontal), _merge(vertical)


def _merge(segments: list[tuple[np.ndarray, float, np.ndarray]], tolerance: float = 3.0) -> list[np.ndarray]:
    """Group segments lying on one line (both ends within ``tolerance`` px of it); longest total first."""
    groups: list[list[Any]] = []
    for line, length, ends in sorted(segments, key=lambda s: -s[1]):
        for group in groups:
            if np.abs(ends @ group[0]).max() < tolerance:
                group[1] += length
                break
        else:
            groups.append([line, length])
    groups.sort(key=lambda g: -g[1])
    return [g[0] for g in groups]


def edge_profile(
    line: np.ndarray, gx: np.ndarray, gy: np.ndarray, horizontal: bool, reach: int = 2
) -> np.ndarray:
    """Cumulative count, along ``line`` (by x if ``horizontal``, else by y), of positions where an
    edge crosses it within ``reach`` px: the gradient across the line is strong and dominant."""
    height, width = gx.shape
    a, b, c = line
    if horizontal:
        t = np.arange(width, dtype=np.float64)
        x, y = t, -(a * t + c) / (b if abs(b) > 1e-9 else 1e-9)
    else:
        t = np.arange(height, dtype=np.float64)
        x, y = -(b * t + c) / (a if abs(a) > 1e-9 else 1e-9), t
    hit = np.zeros(len(t), dtype=bool)
    for d in range(-reach, reach + 1):
        xi = np.round(x + d * a).astype(np.int64)
        yi = np.round(y + d * b).astype(np.int64)
        inside = (xi >= 0) & (xi < width) & (yi >= 0) & (yi < height)
        xi, yi = np.clip(xi, 0, width - 1), np.clip(yi, 0, height - 1)
        g1, g2 = gx[yi, xi], gy[yi, xi]
        across, along = np.abs(g1 * a + g2 * b), np.abs(g2 * a - g1 * b)
        hit |= inside & (across > EDGE_THRESHOLD) & (across > along)
    return np.concatenate([[0], np.cumsum(hit)])


def border_profile(region: np.ndarray, where: str) -> np.ndarray:
    """Cumulative count along an image border of pixels of ``region``: a painting cut by the
    picture's edge has its side there, supported where the painting touches it."""
    line = {"top": region[0], "bottom": region[-1], "left": region[:, 0], "right": region[:, -1]}[where]
    return np.concatenate([[0], np.cumsum(line > 0)])
