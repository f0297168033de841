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
    load_pixels,
    resize_shorter_side,
)


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
