"""Finding the painting in a photograph of it: its outline, and the rectified picture inside it.

A visitor's phone photo shows the painting at an angle, in its frame, on a wall with a label
beside it; the model should see only the painting. `find_painting` looks for that outline on the
decoded, reduced image (long side at most `DETECT_SIDE`) with classical image processing
(OpenCV): straight lines from edges (Canny + Hough) and from the boundary of what is not wall
(a smooth colour model of the wall fitted to the picture's border, `wall_distance`) are paired
into convex quadrilaterals; each is scored by how much of its four sides runs along a real edge
(gradient across the side) and by how well it covers the non-wall region, and the best one is
the painting, the largest when there are several. `locate` turns that into a `FoundPainting`
record in the original image's pixels, and `rectify` warps the quadrilateral to a rectangle of
its own proportions (side lengths averaged) so that the views are cut from the painting alone.

Which edge: by default the outline is the **frame's outer edge** (``edge="frame"``): the
painting as it hangs. That matches reference images that show the frame (museum catalogues often
do, the gallery measurement's catalogue does) and costs the most when wrong (measured in
docs/painting-finder.md). ``edge="canvas"`` goes on inside the frame to the painted surface
(`canvas_inside`: the innermost straight line parallel to each side within the outer 30%), for
references that show the canvas alone (WikiArt, Kaggle); there the frame is noise.

Modes: ``"off"`` never looks (the pixels are exactly those of a painter-match without this
module); ``"on"`` crops whenever an outline is found; ``"auto"`` crops only a painting on a
wall: an outline covering at most `AutoRule.max_area` of the picture and lying along at most one
of its edges, the picture's border a plain smooth wall, the outline agreeing with the non-wall
region. Catalogue images and photos already
cropped to the painting have no wall around them, so ``auto`` leaves them whole. Every decision
comes back as a `FoundPainting` whose ``reason`` says what was done and why. OpenCV is imported
only when a painting is looked for, so ``off`` costs nothing.

This module holds the search and the decision (`find_painting`, `Detection`, `AutoRule`,
`locate`); each step it relies on has a module of its own, beside it: `painting_record` (the
`FoundPainting` record and the mode and edge options), `painting_perspective` (`rectify`,
`quad_iou`), `painting_wall` (the wall's colour model and the region that stands out from it),
`painting_edges` (straight lines and where edges run along them), `painting_outline` (the best
quadrilateral from those lines) and `painting_canvas` (the canvas inside a frame). Their public
names used by callers are re-exported here, so this stays the one import path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from painter_match.data.painting_canvas import canvas_inside
from painter_match.data.painting_edges import EDGE_THRESHOLD, gradients
from painter_match.data.painting_outline import best_quad
from painter_match.data.painting_perspective import quad_iou, rectangle_size, rectify
from painter_match.data.painting_record import (
    FIND_PAINTING_MODES,
    PAINTING_EDGES,
    FindPaintingMode,
    FoundPainting,
    PaintingEdge,
    Quad,
    as_quad,
    check_edge,
    check_mode,
)
from painter_match.data.painting_wall import border_band, largest_region, wall_distance

__all__ = [
    "DETECT_SIDE",
    "FIND_PAINTING_MODES",
    "MAX_ASPECT",
    "MIN_DETECT_SIDE",
    "PAINTING_EDGES",
    "AutoRule",
    "Detection",
    "FindPaintingMode",
    "FoundPainting",
    "PaintingEdge",
    "Quad",
    "check_edge",
    "check_mode",
    "find_painting",
    "locate",
    "quad_iou",
    "rectify",
]

# Detection runs on the image reduced to this long side: edges of frames and canvases are
# tens of pixels long at 512, and one detection costs about 50-100 ms of one core.
DETECT_SIDE = 512
# Below this shorter side there is too little to find an outline in; the image stays whole.
MIN_DETECT_SIDE = 48
# Paintings are rarely more elongated than this; a quadrilateral that is, is a wall, a floor
# line or a shelf, and warping to it would make a degenerate image.
MAX_ASPECT = 6.0


@dataclass(frozen=True)
class AutoRule:
    """When ``auto`` crops: every condition must hold (defaults measured, docs/painting-finder.md).

    Attributes:
        max_area: the outline covers at most this share of the picture; above it the wall is a
            thin border, or the outline is something inside a painting that fills the picture.
        min_border_smooth: at least this share of the picture's border band is smooth (gradient
            below `EDGE_THRESHOLD`), as a plain wall is and a frame's moulding, a catalogue
            image's painted edge or a cropped photo's frame is not.
        max_wall_spread: the wall colour model explains the border band to within this (Lab
            units, 4 x the robust spread of its residuals): a wall is one smooth colour.
        min_fit: the outline's IoU with the non-wall region is at least this (a frame's cast
            shadow counts as non-wall, so a right outline with a deep shadow fits about 0.5).
    """

    max_area: float = 0.70
    min_border_smooth: float = 0.85
    max_wall_spread: float = 32.0
    min_fit: float = 0.50


@dataclass(frozen=True)
class Detection:
    """What `find_painting` found in one (reduced) image; coordinates in that image's pixels.

    Attributes:
        outline: the best outline (top-left, top-right, bottom-right, bottom-left), or None.
        canvas: the painted surface inside ``outline`` (or inside the whole picture when no
            outline was found), when one was looked for and found.
        area: the share of the picture ``outline`` covers (0 when none).
        support: the least share of one of its sides that runs along an edge.
        fit: IoU of ``outline`` with the non-wall region.
        border_smooth: share of the picture's border band that is smooth.
        wall_spread: how far the border band is from one smooth colour (Lab units).
        size: (width, height) of the image searched.
        border_sides: how many of the outline's sides lie on the picture's own edges.
    """

    outline: np.ndarray | None
    canvas: np.ndarray | None
    area: float
    support: float
    fit: float
    border_smooth: float
    wall_spread: float
    size: tuple[int, int]
    border_sides: int = 0

    def on_wall(self, rule: AutoRule) -> tuple[bool, str]:
        """Whether ``auto`` crops to the outline under ``rule``, and why (or why not)."""
        if self.outline is None:
            return False, "no painting outline found"
        if self.border_sides >= 2:
            # A painting hung on a wall has wall on three sides at least; a band running across
            # the picture (a horizon, a stripe of a painting) touches two of its edges.
            return (
                False,
                f"the outline runs along {self.border_sides} edges of the image, not a painting on a wall",
            )
        if self.area > rule.max_area:
            return (
                False,
                f"the outline covers {self.area:.0%} of the image (auto crops at most {rule.max_area:.0%})",
            )
        if self.border_smooth < rule.min_border_smooth or self.wall_spread > rule.max_wall_spread:
            return (
                False,
                "no plain wall around the outline (the picture looks cropped to the painting already)",
            )
        if self.fit < rule.min_fit:
            return False, f"the outline does not match what stands out from the wall (fit {self.fit:.2f})"
        return True, "painting on a wall"


def locate(
    image: Image.Image,
    mode: FindPaintingMode,
    *,
    edge: PaintingEdge = "frame",
    full_size: tuple[int, int] | None = None,
    rule: AutoRule | None = None,
) -> FoundPainting:
    """Decide what to embed of one decoded image: the rectified painting, or the whole image.

    Args:
        image: the decoded RGB image (typically reduced by JPEG draft; it is reduced further to
            `DETECT_SIDE` for the search).
        mode: ``"auto"`` or ``"on"`` (``"off"`` is the caller's: it does not call this).
        edge: crop to the frame's outer edge or to the canvas inside it.
        full_size: (width, height) of the original image ``image`` was decoded from, so that the
            record's quadrilateral is in the original's pixels; None means ``image.size``.
        rule: when ``auto`` crops; None means `AutoRule()`.

    Returns:
        The record; ``quad`` is None when the whole image is to be embedded.
    """
    check_mode(mode)
    check_edge(edge)
    width, height = image.size
    full = full_size if full_size is not None else (width, height)
    if min(width, height) < MIN_DETECT_SIDE:
        return FoundPainting(
            mode, edge, False, f"image too small to look for a painting ({width}x{height})", image_size=full
        )
    small, scale = _reduced(np.asarray(image.convert("RGB")))
    detection = find_painting(small, canvas=edge == "canvas")
    to_full = np.array([full[0] / width, full[1] / height]) / scale
    outline = None if detection.outline is None else as_quad(detection.outline * to_full)
    measures = {
        "area": detection.area,
        "support": detection.support,
        "fit": detection.fit,
        "border_smooth": detection.border_smooth,
        "wall_spread": detection.wall_spread,
        "border_sides": float(detection.border_sides),
    }
    on_wall, reason = detection.on_wall(rule or AutoRule())
    target: np.ndarray | None
    if mode == "auto":
        target = detection.outline if on_wall else None
        if target is not None and edge == "canvas" and detection.canvas is not None:
            target, reason = detection.canvas, "painting on a wall; canvas inside its frame"
    else:  # "on": whatever outline was found
        target = detection.canvas if edge == "canvas" and detection.canvas is not None else detection.outline
        if target is None:
            reason = "no painting outline found"
        elif target is detection.canvas:
            reason = (
                "canvas inside its frame"
                if detection.outline is not None
                else "canvas inside the picture's frame"
            )
        else:
            reason = "painting outline found" + (
                "" if on_wall else f" (auto would keep the whole image: {reason})"
            )
    if target is None:
        return FoundPainting(mode, edge, False, reason, None, outline, full, measures)
    return FoundPainting(mode, edge, True, reason, as_quad(target * to_full), outline, full, measures)


def find_painting(small: np.ndarray, *, canvas: bool = False) -> Detection:
    """Find the outline of the (largest) painting in an RGB image of at most `DETECT_SIDE` px.

    Args:
        small: uint8 ``[H, W, 3]`` RGB.
        canvas: also look for the canvas inside the outline (or inside the whole picture when no
            outline is found: a frame that fills the picture).

    Returns:
        The `Detection`, coordinates in ``small``'s pixels. Never raises for image content.
    """
    import cv2

    height, width = small.shape[:2]
    lab = cv2.cvtColor(cv2.GaussianBlur(small, (5, 5), 0), cv2.COLOR_RGB2LAB).astype(np.float32)
    gx, gy = gradients(lab)
    distance, spread = wall_distance(lab)
    threshold = max(12.0, spread)
    region = largest_region(distance > threshold)
    band = border_band(height, width)
    border_smooth = float((np.hypot(gx, gy)[band] < EDGE_THRESHOLD).mean())

    best = best_quad(small, gx, gy, region)
    outline: np.ndarray | None = None
    area = support = fit = 0.0
    if best is not None:
        outline, area, support, fit = best
        w, h = rectangle_size(outline)
        if max(w, h) > MAX_ASPECT * max(1, min(w, h)):
            outline, area, support, fit = None, 0.0, 0.0, 0.0
    inner = None
    if canvas:
        frame = outline if outline is not None else _whole(width, height)
        inner = canvas_inside(small, frame)
    return Detection(
        outline=outline,
        canvas=inner,
        area=area,
        support=support,
        fit=fit,
        border_smooth=border_smooth,
        wall_spread=spread,
        size=(width, height),
        border_sides=0 if outline is None else _border_sides(outline, width, height),
    )


def _border_sides(corners: np.ndarray, width: int, height: int, tolerance: float = 2.0) -> int:
    """How many sides of a quadrilateral lie on the picture's edges (both ends within ``tolerance``)."""
    c = np.asarray(corners, dtype=np.float64).reshape(4, 2)
    count = 0
    for a, b in zip(c, np.roll(c, -1, axis=0)):
        for axis, edge in ((0, 0.0), (0, width - 1.0), (1, 0.0), (1, height - 1.0)):
            if abs(a[axis] - edge) <= tolerance and abs(b[axis] - edge) <= tolerance:
                count += 1
                break
    return count


def _reduced(pixels: np.ndarray) -> tuple[np.ndarray, float]:
    """The image with its long side at most `DETECT_SIDE` (area-averaged), and the scale used."""
    import cv2

    height, width = pixels.shape[:2]
    scale = DETECT_SIDE / max(height, width)
    if scale >= 1.0:
        return np.ascontiguousarray(pixels), 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA), scale


def _whole(width: int, height: int) -> np.ndarray:
    """The whole picture as a quadrilateral."""
    return np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], dtype=np.float64)
