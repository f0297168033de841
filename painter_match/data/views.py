"""The views of one painting the model embeds: the whole painting, and optionally a grid of crops.

View 0 is what the model was trained on: the shorter side resized to the input size and the
centre cut out (the same helpers `images.load_pixels` uses). The crops show brushwork at a finer
scale: input-size squares cut from the painting resized so that its shorter side is
``crop_scale`` x the input size, on a fixed grid spread evenly over the painting, so the same
file always gives the same views. The file is decoded once, at the largest size any view needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from painter_match.data.images import (
    DEFAULT_MAX_PIXELS,
    center_crop,
    load_image,
    load_image_sized,
    load_pixels,
    resize_shorter_side,
)
from painter_match.data.painting_finder import FoundPainting, locate, rectify
from painter_match.errors import ImageLoadError


@dataclass(frozen=True)
class Views:
    """How a painting becomes one embedding: the mean over a global view and ``crops`` crops.

    The global view is the whole painting, shorter side resized to the input size and
    centre-cropped. Each crop is an input-size square cut from the painting decoded with its
    shorter side at ``crop_scale`` x the input size, on a fixed grid, so brushwork is seen at the
    scale the model was trained on. ``crops == 0`` is the global view alone.
    """

    crops: int = 0
    crop_scale: float = 2.0

    def __post_init__(self) -> None:
        if self.crops < 0:
            raise ValueError(f"views: crops must be 0 or more, got {self.crops}")
        if self.crop_scale < 1.0:
            raise ValueError(f"views: crop_scale must be at least 1, got {self.crop_scale}")


def crop_side(input_size: int, views: Views) -> int:
    """The shorter side the painting is resized to before its crops are cut."""
    return max(input_size, round(views.crop_scale * input_size))


def grid_shape(crops: int, width: int, height: int) -> tuple[int, int]:
    """Rows and columns of a ``crops``-cell grid whose shape best matches the painting's.

    Only exact factorisations are considered, so every cell is used and the crops are spread
    evenly; a prime count becomes one row (or column) along the longer side.

    Args:
        crops: the number of crops, at least 1.
        width, height: the painting's size, in pixels.

    Returns:
        ``(rows, cols)`` with ``rows * cols == crops``.
    """
    if crops < 1:
        raise ValueError(f"crops must be at least 1, got {crops}")
    target = math.log(width / height)
    divisors = [rows for rows in range(1, crops + 1) if crops % rows == 0]
    # Ties (a square painting: 2 x 1 or 1 x 2) go to more columns, so the choice is deterministic.
    rows = min(divisors, key=lambda r: (abs(math.log((crops // r) / r) - target), r))
    return rows, crops // rows


def crop_boxes(crops: int, width: int, height: int, size: int) -> list[tuple[int, int, int, int]]:
    """The ``(left, top, right, bottom)`` boxes of ``crops`` size-square crops of a painting.

    Centres are evenly spaced: the first and last crop of a row touch the painting's edges, and
    a single crop along an axis is centred on it.
    """
    if width < size or height < size:
        raise ValueError(f"cannot cut {size}x{size} crops from a {width}x{height} image")
    rows, cols = grid_shape(crops, width, height)

    def offsets(count: int, length: int) -> list[int]:
        if count == 1:
            return [(length - size) // 2]
        return [round(i * (length - size) / (count - 1)) for i in range(count)]

    return [(x, y, x + size, y + size) for y in offsets(rows, height) for x in offsets(cols, width)]


def view_pixels(
    path: str | Path, input_size: int, views: Views, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """Decode a painting once and cut every view the model embeds.

    Args:
        path: the image file.
        input_size: the square side the model takes (the model's ``input_size``).
        views: how many crops, at what scale.
        max_pixels: passed to `images.load_image`.

    Returns:
        uint8 ``[1 + views.crops, input_size, input_size, 3]``; view 0 is the global view.

    Raises:
        ImageLoadError: the file cannot be decoded.
    """
    if views.crops == 0:
        # Exactly the training loader's pixels (JPEGs drafted for this size only).
        return load_pixels(path, input_size, max_pixels=max_pixels)[None]
    image = load_image(path, min_side=crop_side(input_size, views), max_pixels=max_pixels)
    return image_views(image, input_size, views)


def image_views(image: Image.Image, input_size: int, views: Views) -> np.ndarray:
    """Every view of an already decoded painting (whose shorter side is at least
    `crop_side`), as `view_pixels` cuts them: uint8 ``[1 + views.crops, S, S, 3]``, global first.

    The trainer's validation embeds through this, so that the calibration it fits sees the same
    views as ``embed`` with the model's default policy.
    """
    side = crop_side(input_size, views)
    out = np.empty((1 + views.crops, input_size, input_size, 3), dtype=np.uint8)
    out[0] = np.asarray(center_crop(resize_shorter_side(image, input_size), input_size))
    if views.crops:
        large = resize_shorter_side(image, side)
        for i, box in enumerate(crop_boxes(views.crops, large.width, large.height, input_size), start=1):
            out[i] = np.asarray(large.crop(box))
    return out


# The finder looks at an image decoded with at least this shorter side (JPEGs are drafted to
# it, not below): at the 224 px the views need, a frame's edges are a few pixels wide and the
# wall's smoothness is measured on a blurred thumbnail.
DETECT_MIN_SHORT_SIDE = 384


def found_view_pixels(
    source: str | Path | Image.Image,
    input_size: int,
    views: Views,
    *,
    find_painting: str,
    edge: str = "frame",
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[np.ndarray, FoundPainting | None]:
    """The views of a painting found in a photograph, and the record of what was done.

    The image is decoded as for `view_pixels` (JPEGs reduced to the size the views need), the
    painting is looked for on that decoded image (`painting_finder.locate`, which reduces it
    further), and when it is cropped the quadrilateral is rectified and the views are cut from
    that. A small painting in a large photo is decoded a second time at a larger scale, so that
    the crop still has the resolution the views need.

    Args:
        source: an image file, or an already decoded RGB image.
        input_size, views, max_pixels: as for `view_pixels`.
        find_painting: ``"auto"``, ``"on"`` or ``"off"`` (`painting_finder`); ``"off"`` gives
            `view_pixels`'s (or `image_views`'s) pixels and no record.
        edge: ``"frame"`` or ``"canvas"``: which outline is cropped to.

    Returns:
        uint8 ``[1 + views.crops, input_size, input_size, 3]``, and the record (None for ``off``).

    Raises:
        ImageLoadError: the file cannot be decoded.
        ValueError: ``find_painting`` or ``edge`` is not one of its values.
    """
    if find_painting == "off":
        if isinstance(source, Image.Image):
            return image_views(source, input_size, views), None
        return view_pixels(source, input_size, views, max_pixels=max_pixels), None
    side = input_size if views.crops == 0 else crop_side(input_size, views)
    detect_side = max(side, DETECT_MIN_SHORT_SIDE)
    if isinstance(source, Image.Image):
        image, full_size = source, source.size
    else:
        image, full_size = load_image_sized(source, min_side=detect_side, max_pixels=max_pixels)
    found = locate(image, find_painting, edge=edge, full_size=full_size)  # type: ignore[arg-type]
    if found.quad is None:
        if isinstance(source, Image.Image) or detect_side == side:
            return image_views(image, input_size, views), found
        # Left whole: exactly the pixels `view_pixels` gives (JPEGs drafted for the views' size,
        # not the finder's), so that an image auto leaves alone embeds as with "off".
        return view_pixels(source, input_size, views, max_pixels=max_pixels), found
    quad = np.asarray(found.quad) * [image.width / full_size[0], image.height / full_size[1]]
    shorter = _rectified_shorter_side(quad)
    if shorter < side and image.size != full_size and not isinstance(source, Image.Image):
        # The JPEG was decoded reduced for the whole picture; the painting is a part of it and
        # needs more pixels. Decode again at the scale that gives its crop ``side`` px.
        need = min(min(full_size), math.ceil(side * min(image.size) / max(1.0, shorter)))
        try:
            larger = load_image(source, min_side=need, max_pixels=max_pixels)
        except ImageLoadError:
            larger = image  # keep the smaller decode: a softer crop rather than no embedding
        quad = quad * [larger.width / image.width, larger.height / image.height]
        image = larger
    return image_views(rectify(image, quad, max_side=side), input_size, views), found


def _rectified_shorter_side(quad: np.ndarray) -> float:
    """The shorter side of the rectangle `painting_finder.rectify` warps ``quad`` to."""
    c = np.asarray(quad, dtype=np.float64).reshape(4, 2)
    width = (np.hypot(*(c[1] - c[0])) + np.hypot(*(c[2] - c[3]))) / 2
    height = (np.hypot(*(c[3] - c[0])) + np.hypot(*(c[2] - c[1]))) / 2
    return float(min(width, height))
