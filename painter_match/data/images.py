"""Finding image files and turning each one into the pixels the model sees.

This is the only place painter-match touches image files, so that training and inference
decode, orient, colour-convert and crop every painting the same way: `find_images` lists a
folder without leaving it, `resolve_inside` joins a file name read from a CSV to its folder,
`load_image` decodes one file into a fully loaded RGB Pillow image (EXIF orientation applied,
alpha composited onto white, JPEGs decoded at reduced scale when only a small image is needed,
and a pixel limit of its own instead of Pillow's decompression-bomb check), and `load_pixels`
produces the ``(size, size, 3)`` uint8 array the ONNX model consumes. Every failure to read
one file is an `ImageLoadError` naming that file, so callers walking thousands of paintings
can record it and go on.

This module holds `load_pixels`; the steps it is made of have modules of their own, beside it:
`image_files` (finding image files and checking the names that point at them), `image_decoding`
(decoding one file within its pixel limits), `image_colour` (any Pillow mode as 8-bit RGB) and
`image_resizing` (shorter-side resize and centre crop). Their public names are re-exported here,
so this stays the one import path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from painter_match.data.image_colour import to_rgb
from painter_match.data.image_decoding import (
    DEFAULT_MAX_PIXELS,
    MAX_RESIZED_PIXELS,
    load_image,
    load_image_sized,
)
from painter_match.data.image_files import (
    IMAGE_EXTENSIONS,
    find_images,
    is_image_name,
    name_problem,
    normalise_name,
    resolve_inside,
)
from painter_match.data.image_resizing import center_crop, resize_shorter_side, resized_size

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "MAX_RESIZED_PIXELS",
    "center_crop",
    "find_images",
    "is_image_name",
    "load_image",
    "load_image_sized",
    "load_pixels",
    "name_problem",
    "normalise_name",
    "resize_shorter_side",
    "resized_size",
    "resolve_inside",
    "to_rgb",
]


def load_pixels(
    path: str | Path,
    size: int,
    *,
    resize: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """Load an image as the square RGB array the model consumes.

    The image is decoded by `load_image`, resized so its shorter side is ``resize`` (or
    ``size``), and centre-cropped to ``size`` x ``size``.

    Args:
        path: The image file.
        size: The side of the square the model takes.
        resize: The shorter side to resize to before cropping; at least ``size``. None means
            ``size`` (crop only the longer side).
        max_pixels: Passed to `load_image`.

    Returns:
        A C-contiguous, writable uint8 array of shape ``(size, size, 3)`` in RGB order.

    Raises:
        ImageLoadError: The file cannot be decoded (see `load_image`).
        ValueError: ``size`` is not positive or ``resize`` is smaller than ``size``.
    """
    if size < 1:
        raise ValueError(f"size must be a positive integer, got {size}")
    target = size if resize is None else resize
    if target < size:
        raise ValueError(f"resize ({resize}) must be at least the crop size ({size})")
    image = load_image(path, min_side=target, max_pixels=max_pixels)
    image = center_crop(resize_shorter_side(image, target), size)
    # np.array copies: the result owns writable memory, which torch.from_numpy and
    # in-place normalisation need (np.asarray of a Pillow image is read-only).
    return np.array(image, dtype=np.uint8)
