"""Choosing the painting's outline: the best quadrilateral from pairs of straight lines.

`best_quad` pairs horizontal and vertical lines (`painting_edges`) into convex quadrilaterals,
keeps those whose four sides run along edges all the way to their corners, and of these picks
the one that best covers the region standing out from the wall (`painting_wall`), weighted by
its edge support.
"""

from __future__ import annotations

import numpy as np

from painter_match.data.painting_edges import border_profile, edge_profile, straight_lines

# Lines per direction paired into quadrilaterals: the longest from the edges, and a few from the
# boundary of the non-wall region (which finds a low-contrast side the edges miss).
_EDGE_LINES = 12
_REGION_LINES = 4
# Quadrilaterals (by mean side support) whose fit to the non-wall region is computed.
_FIT_CANDIDATES = 60
_MIN_SIDE_SUPPORT = 0.5
# Each side's last ``_END_SHARE`` at either corner must be supported at least this much.
_END_SHARE = 0.12
_MIN_END_SUPPORT = 0.3
_MIN_AREA = 0.02


def best_quad(
    small: np.ndarray, gx: np.ndarray, gy: np.ndarray, region: np.ndarray
) -> tuple[np.ndarray, float, float, float] | None:
    """The best quadrilateral from pairs of horizontal and vertical lines, or None.

    Returns:
        ``(corners [4, 2], area share, least side support, IoU with region)``.
    """
    import cv2

    height, width = gx.shape
    lab = cv2.cvtColor(cv2.GaussianBlur(small, (3, 3), 0), cv2.COLOR_RGB2LAB)
    edges = np.asarray(cv2.Canny(lab[:, :, 0], 30, 90, L2gradient=True), dtype=np.uint8)
    for channel in (1, 2):
        edges = edges | np.asarray(cv2.Canny(lab[:, :, channel], 20, 60, L2gradient=True), dtype=np.uint8)
    boundary = cv2.morphologyEx(region, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) * 255
    edge_h, edge_v = straight_lines(edges)
    region_h, region_v = straight_lines(boundary)
    # Lines with their support profiles; the image borders are lines too, supported by the region.
    rows: list[tuple[np.ndarray, np.ndarray]] = [
        (line, edge_profile(line, gx, gy, True)) for line in edge_h[:_EDGE_LINES] + region_h[:_REGION_LINES]
    ]
    rows += [
        (np.array([0.0, 1.0, 0.0]), border_profile(region, "top")),
        (np.array([0.0, 1.0, -(height - 1.0)]), border_profile(region, "bottom")),
    ]
    cols: list[tuple[np.ndarray, np.ndarray]] = [
        (line, edge_profile(line, gx, gy, False)) for line in edge_v[:_EDGE_LINES] + region_v[:_REGION_LINES]
    ]
    cols += [
        (np.array([1.0, 0.0, 0.0]), border_profile(region, "left")),
        (np.array([1.0, 0.0, -(width - 1.0)]), border_profile(region, "right")),
    ]
    # Order top to bottom and left to right (at the picture's centre), so pairs i < j are
    # (top, bottom) and (left, right).
    rows.sort(key=lambda r: -(r[0][0] * width / 2 + r[0][2]) / r[0][1])
    cols.sort(key=lambda r: -(r[0][1] * height / 2 + r[0][2]) / r[0][0])
    h_lines = np.array([r[0] for r in rows])
    v_lines = np.array([r[0] for r in cols])
    h_prof = np.stack([r[1] for r in rows])
    v_prof = np.stack([r[1] for r in cols])

    with np.errstate(divide="ignore", invalid="ignore"):
        points = np.cross(h_lines[:, None, :], v_lines[None, :, :])
        corners_all = points[..., :2] / points[..., 2:3]
    i1, i2 = np.triu_indices(len(rows), 1)
    j1, j2 = np.triu_indices(len(cols), 1)
    top, bottom = np.repeat(i1, len(j1)), np.repeat(i2, len(j1))
    left, right = np.tile(j1, len(i1)), np.tile(j2, len(i1))
    quads = np.stack(
        [
            corners_all[top, left],
            corners_all[top, right],
            corners_all[bottom, right],
            corners_all[bottom, left],
        ],
        1,
    )
    ok = np.asarray(np.isfinite(quads).all(axis=(1, 2)))
    quads = np.where(ok[:, None, None], quads, -1e6)
    ok &= (quads[..., 0].min(1) >= -2) & (quads[..., 1].min(1) >= -2)
    ok &= (quads[..., 0].max(1) <= width + 1) & (quads[..., 1].max(1) <= height + 1)
    step1 = np.roll(quads, -1, 1) - quads
    step2 = np.roll(quads, -2, 1) - np.roll(quads, -1, 1)
    ok &= ((step1[..., 0] * step2[..., 1] - step1[..., 1] * step2[..., 0]) > 0).all(1)
    x, y = quads[..., 0], quads[..., 1]
    area = 0.5 * np.abs((x * np.roll(y, -1, 1) - np.roll(x, -1, 1) * y).sum(1)) / (height * width)
    ok &= area >= _MIN_AREA
    if not ok.any():
        return None
    quads, area = quads[ok], area[ok]
    top, bottom, left, right = top[ok], bottom[ok], left[ok], right[ok]

    def share(profiles: np.ndarray, index: np.ndarray, t0: np.ndarray, t1: np.ndarray) -> np.ndarray:
        n = profiles.shape[1] - 1
        lo = np.clip(np.floor(np.minimum(t0, t1)), 0, n - 1).astype(np.int64)
        hi = np.maximum(np.clip(np.ceil(np.maximum(t0, t1)), 0, n).astype(np.int64), lo + 1)
        return (profiles[index, hi] - profiles[index, lo]) / (hi - lo)

    def side(
        profiles: np.ndarray, index: np.ndarray, t0: np.ndarray, t1: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        # The whole side, and its two ends: a side drawn past the painting's corner (to a floor
        # line, a shadow's edge) is well supported along most of its length but not at that end.
        end = _END_SHARE * (t1 - t0)
        return (
            share(profiles, index, t0, t1),
            share(profiles, index, t0, t0 + end),
            share(profiles, index, t1 - end, t1),
        )

    sides = [
        side(h_prof, top, quads[:, 0, 0], quads[:, 1, 0]),
        side(v_prof, right, quads[:, 1, 1], quads[:, 2, 1]),
        side(h_prof, bottom, quads[:, 3, 0], quads[:, 2, 0]),
        side(v_prof, left, quads[:, 0, 1], quads[:, 3, 1]),
    ]
    support = np.stack([s[0] for s in sides], 1)
    ends = np.stack([np.minimum(s[1], s[2]) for s in sides], 1)
    good = np.flatnonzero((support.min(1) >= _MIN_SIDE_SUPPORT) & (ends.min(1) >= _MIN_END_SUPPORT))
    if not len(good):
        return None
    mean_support = support.mean(1)
    good = good[np.argsort(-mean_support[good], kind="stable")][:_FIT_CANDIDATES]
    fit = _fits(quads[good], region)
    score = fit * np.sqrt(mean_support[good])
    k = int(good[int(np.argmax(score))])
    return quads[k].astype(np.float64), float(area[k]), float(support[k].min()), float(fit.max())


def _fits(quads: np.ndarray, region: np.ndarray, side: int = 128) -> np.ndarray:
    """IoU of each quadrilateral with ``region``, rasterised at ``side`` px on the long side."""
    import cv2

    height, width = region.shape
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    target = cv2.resize(region, size, interpolation=cv2.INTER_NEAREST).astype(bool)
    target_area = int(target.sum())
    canvas = np.zeros(target.shape, dtype=np.uint8)
    out = np.zeros(len(quads))
    for k, quad in enumerate(quads):
        canvas[:] = 0
        cv2.fillPoly(canvas, [np.round(quad * scale).astype(np.int32)], 1)
        filled = canvas.astype(bool)
        inter = int((filled & target).sum())
        out[k] = inter / max(1, int(filled.sum()) + target_area - inter)
    return out
