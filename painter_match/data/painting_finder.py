"""Finding the painting in a photograph of it: its outline, and the rectified picture inside it.

A visitor's phone photo shows the painting at an angle, in its frame, on a wall with a label
beside it; the model should see only the painting. `find_painting` looks for that outline on the
decoded, reduced image (long side at most `DETECT_SIDE`) with classical image processing
(OpenCV): straight lines from edges (Canny + Hough) and from the boundary of what is not wall
(a smooth colour model of the wall fitted to the picture's border, `_wall_distance`) are paired
into convex quadrilaterals; each is scored by how much of its four sides runs along a real edge
(gradient across the side) and by how well it covers the non-wall region, and the best one is
the painting, the largest when there are several. `locate` turns that into a `FoundPainting`
record in the original image's pixels, and `rectify` warps the quadrilateral to a rectangle of
its own proportions (side lengths averaged) so that the views are cut from the painting alone.

Which edge: by default the outline is the **frame's outer edge** (``edge="frame"``): the
painting as it hangs. That matches reference images that show the frame (museum catalogues often
do, the gallery measurement's catalogue does) and costs the most when wrong (measured in
docs/painting-finder.md). ``edge="canvas"`` goes on inside the frame to the painted surface
(`_canvas_inside`: the innermost straight line parallel to each side within the outer 30%), for
references that show the canvas alone (WikiArt, Kaggle); there the frame is noise.

Modes: ``"off"`` never looks (the pixels are exactly those of a painter-match without this
module); ``"on"`` crops whenever an outline is found; ``"auto"`` crops only a painting on a
wall: an outline covering at most `AutoRule.max_area` of the picture and lying along at most one
of its edges, the picture's border a plain smooth wall, the outline agreeing with the non-wall
region. Catalogue images and photos already
cropped to the painting have no wall around them, so ``auto`` leaves them whole. Every decision
comes back as a `FoundPainting` whose ``reason`` says what was done and why. OpenCV is imported
only when a painting is looked for, so ``off`` costs nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from collections.abc import Sequence

FindPaintingMode = Literal["auto", "on", "off"]
PaintingEdge = Literal["frame", "canvas"]
FIND_PAINTING_MODES: tuple[str, ...] = ("auto", "on", "off")
PAINTING_EDGES: tuple[str, ...] = ("frame", "canvas")

# Detection runs on the image reduced to this long side: edges of frames and canvases are
# tens of pixels long at 512, and one detection costs about 50-100 ms of one core.
DETECT_SIDE = 512
# Below this shorter side there is too little to find an outline in; the image stays whole.
MIN_DETECT_SIDE = 48
# Paintings are rarely more elongated than this; a quadrilateral that is, is a wall, a floor
# line or a shelf, and warping to it would make a degenerate image.
MAX_ASPECT = 6.0

Quad = tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]]


@dataclass(frozen=True)
class AutoRule:
    """When ``auto`` crops: every condition must hold (defaults measured, docs/painting-finder.md).

    Attributes:
        max_area: the outline covers at most this share of the picture; above it the wall is a
            thin border, or the outline is something inside a painting that fills the picture.
        min_border_smooth: at least this share of the picture's border band is smooth (gradient
            below `_EDGE_THRESHOLD`), as a plain wall is and a frame's moulding, a catalogue
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


@dataclass(frozen=True)
class FoundPainting:
    """What was done to one image before its views were cut: the record that travels with it.

    Attributes:
        mode: ``"auto"`` or ``"on"`` (``"off"`` makes no record).
        edge: ``"frame"`` or ``"canvas"``: which outline is cropped to.
        cropped: True when the views were cut from the rectified ``quad``; False: the whole image.
        reason: one line saying why, e.g. ``"painting on a wall"`` or
            ``"the outline covers 93% of the image (auto crops at most 70%)"``.
        quad: the quadrilateral embedded, in the original image's pixels (after EXIF
            orientation; x right, y down; top-left, top-right, bottom-right, bottom-left), or None.
        outline: the best outline found even when not used (for drawing), or None.
        image_size: (width, height) of the original image, the frame of ``quad``'s coordinates.
    """

    mode: str
    edge: str
    cropped: bool
    reason: str
    quad: Quad | None = None
    outline: Quad | None = None
    image_size: tuple[int, int] = (0, 0)
    measures: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (lists, floats rounded to 0.1 px); `from_json` reads it back."""
        return {
            "find_painting": self.mode,
            "edge": self.edge,
            "cropped": self.cropped,
            "reason": self.reason,
            "quad": _quad_json(self.quad),
            "outline": _quad_json(self.outline),
            "image_size": list(self.image_size),
            "measures": {k: round(v, 3) for k, v in self.measures.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FoundPainting:
        """Read `to_json`'s dict back; raises ValueError naming the field that is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"painting record must be an object, got {type(data).__name__}")
        mode = data.get("find_painting")
        edge = data.get("edge")
        if mode not in ("auto", "on"):
            raise ValueError(f"painting record: find_painting must be 'auto' or 'on', got {mode!r}")
        if edge not in PAINTING_EDGES:
            raise ValueError(f"painting record: edge must be 'frame' or 'canvas', got {edge!r}")
        size = data.get("image_size", [0, 0])
        if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) for v in size)):
            raise ValueError(f"painting record: image_size must be [width, height], got {size!r}")
        measures = data.get("measures", {})
        if not isinstance(measures, dict):
            raise ValueError(f"painting record: measures must be an object, got {measures!r}")
        return cls(
            mode=mode,
            edge=edge,
            cropped=bool(data.get("cropped")),
            reason=str(data.get("reason", "")),
            quad=_quad_from_json(data.get("quad"), "quad"),
            outline=_quad_from_json(data.get("outline"), "outline"),
            image_size=(size[0], size[1]),
            measures={str(k): float(v) for k, v in measures.items()},
        )


def check_mode(mode: str, *, name: str = "find_painting") -> FindPaintingMode:
    """Return ``mode`` if it is one of auto/on/off, else raise ValueError naming ``name``."""
    if mode not in FIND_PAINTING_MODES:
        raise ValueError(f"{name} must be one of {', '.join(FIND_PAINTING_MODES)}; got {mode!r}")
    return mode  # type: ignore[return-value]


def check_edge(edge: str, *, name: str = "painting_edge") -> PaintingEdge:
    """Return ``edge`` if it is frame or canvas, else raise ValueError naming ``name``."""
    if edge not in PAINTING_EDGES:
        raise ValueError(f"{name} must be one of {', '.join(PAINTING_EDGES)}; got {edge!r}")
    return edge  # type: ignore[return-value]


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
    outline = None if detection.outline is None else _as_quad(detection.outline * to_full)
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
    return FoundPainting(mode, edge, True, reason, _as_quad(target * to_full), outline, full, measures)


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
    width, height = _rectangle_size(corners)
    if max_side is not None and min(width, height) > 2 * max_side:
        factor = 2 * max_side / min(width, height)
        reduced = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
        sx, sy = reduced[0] / image.width, reduced[1] / image.height
        image = image.resize(reduced, Image.Resampling.BICUBIC, reducing_gap=3.0)
        corners = corners * [sx, sy]
        width, height = _rectangle_size(corners)
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


# --- detection ------------------------------------------------------------------------------

# A side "runs along an edge" where the Lab gradient across it (Sobel, 3x3, on the channel with
# the largest gradient) is above this and larger than the gradient along it: about a step of 8
# grey levels, which a frame against a wall always makes and a soft shadow does not.
_EDGE_THRESHOLD = 30.0
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
# Near-horizontal and near-vertical, in degrees: perspective of a photo taken facing the wall
# tilts a painting's sides by less than this.
_HORIZONTAL_TILT = 25.0
_VERTICAL_TILT = 20.0


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
    gx, gy = _gradients(lab)
    distance, spread = _wall_distance(lab)
    threshold = max(12.0, spread)
    region = _largest_region(distance > threshold)
    band = _border_band(height, width)
    border_smooth = float((np.hypot(gx, gy)[band] < _EDGE_THRESHOLD).mean())

    best = _best_quad(small, gx, gy, region)
    outline: np.ndarray | None = None
    area = support = fit = 0.0
    if best is not None:
        outline, area, support, fit = best
        w, h = _rectangle_size(outline)
        if max(w, h) > MAX_ASPECT * max(1, min(w, h)):
            outline, area, support, fit = None, 0.0, 0.0, 0.0
    inner = None
    if canvas:
        frame = outline if outline is not None else _whole(width, height)
        inner = _canvas_inside(small, frame)
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


def _gradients(lab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sobel gradients of the Lab channel whose gradient is largest, pixel by pixel."""
    import cv2

    gx = np.stack([cv2.Sobel(lab[:, :, c], cv2.CV_32F, 1, 0, ksize=3) for c in range(3)])
    gy = np.stack([cv2.Sobel(lab[:, :, c], cv2.CV_32F, 0, 1, ksize=3) for c in range(3)])
    strongest = (gx * gx + gy * gy).argmax(0)[None]
    return np.take_along_axis(gx, strongest, 0)[0], np.take_along_axis(gy, strongest, 0)[0]


def _border_band(height: int, width: int, share: float = 0.04) -> np.ndarray:
    """Boolean mask of the picture's border band (``share`` of the shorter side, at least 2 px)."""
    band = max(2, round(share * min(height, width)))
    mask = np.zeros((height, width), dtype=bool)
    mask[:band] = mask[-band:] = True
    mask[:, :band] = mask[:, -band:] = True
    return mask


def _wall_distance(lab: np.ndarray) -> tuple[np.ndarray, float]:
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
    ys, xs = np.nonzero(_border_band(height, width))
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


def _largest_region(mask: np.ndarray) -> np.ndarray:
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


def _segments(edges: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
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


def _profile(
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
        hit |= inside & (across > _EDGE_THRESHOLD) & (across > along)
    return np.concatenate([[0], np.cumsum(hit)])


def _border_profile(region: np.ndarray, where: str) -> np.ndarray:
    """Cumulative count along an image border of pixels of ``region``: a painting cut by the
    picture's edge has its side there, supported where the painting touches it."""
    line = {"top": region[0], "bottom": region[-1], "left": region[:, 0], "right": region[:, -1]}[where]
    return np.concatenate([[0], np.cumsum(line > 0)])


def _best_quad(
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
    edge_h, edge_v = _segments(edges)
    region_h, region_v = _segments(boundary)
    # Lines with their support profiles; the image borders are lines too, supported by the region.
    rows: list[tuple[np.ndarray, np.ndarray]] = [
        (line, _profile(line, gx, gy, True)) for line in edge_h[:_EDGE_LINES] + region_h[:_REGION_LINES]
    ]
    rows += [
        (np.array([0.0, 1.0, 0.0]), _border_profile(region, "top")),
        (np.array([0.0, 1.0, -(height - 1.0)]), _border_profile(region, "bottom")),
    ]
    cols: list[tuple[np.ndarray, np.ndarray]] = [
        (line, _profile(line, gx, gy, False)) for line in edge_v[:_EDGE_LINES] + region_v[:_REGION_LINES]
    ]
    cols += [
        (np.array([1.0, 0.0, 0.0]), _border_profile(region, "left")),
        (np.array([1.0, 0.0, -(width - 1.0)]), _border_profile(region, "right")),
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


def _canvas_inside(
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
    gx, gy = _gradients(lab)
    across_rows = ((np.abs(gy) > _EDGE_THRESHOLD) & (np.abs(gy) > np.abs(gx))).astype(np.uint8)
    across_cols = ((np.abs(gx) > _EDGE_THRESHOLD) & (np.abs(gx) > np.abs(gy))).astype(np.uint8)
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


def _rectangle_size(corners: np.ndarray) -> tuple[int, int]:
    """Width and height of the rectangle a quadrilateral is warped to: means of opposite sides."""
    c = np.asarray(corners, dtype=np.float64).reshape(4, 2)
    width = (np.hypot(*(c[1] - c[0])) + np.hypot(*(c[2] - c[3]))) / 2
    height = (np.hypot(*(c[3] - c[0])) + np.hypot(*(c[2] - c[1]))) / 2
    return max(2, round(width)), max(2, round(height))


def _whole(width: int, height: int) -> np.ndarray:
    """The whole picture as a quadrilateral."""
    return np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], dtype=np.float64)


def _as_quad(corners: np.ndarray) -> Quad:
    c = [(float(x), float(y)) for x, y in np.asarray(corners, dtype=np.float64).reshape(4, 2)]
    return (c[0], c[1], c[2], c[3])


def _quad_json(quad: Quad | None) -> list[list[float]] | None:
    return None if quad is None else [[round(x, 1), round(y, 1)] for x, y in quad]


def _quad_from_json(value: Any, name: str) -> Quad | None:
    if value is None:
        return None
    try:
        corners = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"painting record: {name} must be four [x, y] corners, got {value!r}") from error
    if corners.shape != (4, 2) or not np.isfinite(corners).all():
        raise ValueError(f"painting record: {name} must be four [x, y] corners, got {value!r}")
    return _as_quad(corners)
