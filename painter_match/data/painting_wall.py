"""The wall around a painting: a smooth colour model of it, and the region that stands out.

A painting on a wall is what is not wall. `wall_distance` fits the wall's colour to the
picture's border band (`border_band`) and measures every pixel's distance from it;
`largest_region` keeps the largest connected part of what is far from it, which is the painting
with its frame (and its shadow). The finder pairs lines from that region's boundary and scores
outlines by how well they cover it.
"""

from __future__ import annotations

import numpy as np


def border_band(height: int, width: int, share: float = 0.04) -> np.ndarray:
    """Boolean mask of the picture's border band (``share`` of the shorter side, at least 2 px)."""
    band = max(2, round(share * min(height, width)))
    mask = np.zeros((height, width), dtype=bool)
    mask[:band] = mask[-band:] = True
    mask[:, :band] = mask[:, -band:] = True
    return mask


def wall_distance(lab: np.ndarray) -> tuple[np.ndarray, float]:
    """How far each pixel is from the wall, and how far the wall itself strays from its model.

    The wall is modelled as a colour varying smoothly over the picture (a quadratic in x and y
    per Lab channel: a spotlight's fall-off), fitted to the border band by least squares that
    drops outliers (labels, a neighbouring painting, the painting itself where it reaches the
    border) four times over.

    Returns:
        Lab distance of every pixel from the fitted wall, and 4 x 1.48 x the median residual of
        the border pixels kept (a robust 4-sigma): small for a plain wall, large for a frame.
    """
    height, width = lab.shape[:2]
    ys, xs = np.nonzero(border_band(height, width))
    step = max(1, len(ys) // 2000)
    ys, xs = ys[::step], xs[::step]

    def design(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        u, v = x / width - 0.5, y / height - 0.5
        return np.stack([np.ones_like(u), u, v, u * u, u * v, v * v], axis=-1)

    basis = design(xs.astype(np.float64), ys.astype(np.float64))
    values = lab[ys, xs].astype(np.float64)

    def fit(rows: np.ndarray) -> np.ndarray:
        # Normal equations of a 6-parameter fit: microseconds, where lstsq's LAPACK call costs
        # milliseconds of thread start-up; the ridge keeps a degenerate border solvable.
        kept = basis[rows]
        return np.linalg.solve(kept.T @ kept + 1e-6 * np.eye(6), kept.T @ values[rows])

    # One side of the border may be no wall at all (a floor, a neighbouring painting, the painting
    # itself cut by the picture's edge): when one side strays far more than the other three, the
    # wall is fitted, and its spread measured, on those three.
    side = np.argmin(np.stack([ys, height - 1 - ys, xs, width - 1 - xs]), axis=0)
    residual = np.linalg.norm(basis @ fit(np.ones(len(ys), dtype=bool)) - values, axis=1)
    medians = np.array([np.median(residual[side == k]) if (side == k).any() else 0.0 for k in range(4)])
    worst = int(np.argmax(medians))
    others = float(np.median(np.delete(medians, worst)))
    allowed = side != worst if medians[worst] > max(2.0 * others, 4.0) else np.ones(len(ys), dtype=bool)
    keep = allowed.copy()
    coef = np.zeros((6, 3))
    for _ in range(4):
        coef = fit(keep)
        residual = np.linalg.norm(basis @ coef - values, axis=1)
        keep = allowed & (residual < max(3.0 * float(np.median(residual[keep])), 4.0))
        if keep.sum() < 12:  # everything is an outlier: keep the best few and stop
            keep = residual <= np.partition(residual, min(11, len(residual) - 1))[min(11, len(residual) - 1)]
            break
    grid_y, grid_x = np.mgrid[0:height, 0:width]
    wall = design(grid_x.astype(np.float32), grid_y.astype(np.float32)).astype(np.float32) @ coef.astype(
        np.float32
    )
    distance = np.linalg.norm(lab - wall, axis=-1)
    return distance, 4.0 * 1.4826 * float(np.median(residual[keep]))


def largest_region(mask: np.ndarray) -> np.ndarray:
    """The largest connected part of ``mask`` after closing small gaps and opening off specks."""
    import cv2

    height, width = mask.shape
    k = max(3, (min(height, width) // 80) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    region = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, kernel)
    region = cv2.morphologyEx(region, cv2.MORPH_OPEN, kernel)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(region, connectivity=8)
    if count <= 1:
        return np.zeros_like(region)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return (labels == largest).astype(np.uint8)
