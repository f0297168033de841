"""What `Model.embed` takes, as sentence-transformers' ``encode`` does: one image or a list of them.

An image is a path (``str`` or ``os.PathLike``), a PIL image, or a numpy array of uint8 pixels
``[H, W, 3]`` (RGB; ``[H, W]`` grey and ``[H, W, 4]`` RGBA are converted as a decoded file would
be). One image in gives one vector out; a list (or a ``[N, H, W, 3]`` array) gives a matrix.
Everything is checked before any work, and a message describes a bad input by its type and shape,
never by its contents (a 1.7 MB ``bytes`` object is not printed whole).
numpy and Pillow only.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image

from painter_match.data.images import DEFAULT_MAX_PIXELS, to_rgb
from painter_match.data.views import Views, image_views, view_pixels

ImageInput = Union[str, "os.PathLike[str]", Image.Image, np.ndarray]
"""One image for `Model.embed`: a file's path, a PIL image, or uint8 pixels ``[H, W, 3]``."""

_CHANNELS = (1, 3, 4)


def image_list(
    images: ImageInput | Iterable[ImageInput], argument: str = "images"
) -> tuple[list[ImageInput], bool]:
    """The images of ``images``, checked, and whether it was one image rather than a list.

    Args:
        images: one image, a list (or any iterable) of them, or a uint8 ``[N, H, W, 3]`` array.
        argument: the caller's name for it, for the messages.

    Raises:
        TypeError: an input that is no image (bytes, a number, a nested list), naming its
            position and type.
        ValueError: an array that is not uint8 ``[H, W, 3]`` (or ``[H, W]``, ``[H, W, 1 or 4]``).
    """
    if _is_one(images):
        _check(images, argument)  # type: ignore[arg-type]
        return [images], True  # type: ignore[list-item]
    if isinstance(images, np.ndarray):  # a batch [N, H, W, C]: _is_one took every other shape
        items: list[ImageInput] = list(images)
    elif isinstance(images, (bytes, bytearray, memoryview)) or not isinstance(images, Iterable):
        raise TypeError(f"{argument}: {_no_image(images)}")
    else:
        items = list(images)
    for position, item in enumerate(items):
        if not _is_one(item):
            raise TypeError(f"{argument}[{position}]: {_no_image(item)}")
        _check(item, f"{argument}[{position}]")
    return items, False


def describe(item: ImageInput) -> str:
    """A short name for an image in a message: its path, or its kind and size (never its pixels)."""
    if isinstance(item, Image.Image):
        return f"<PIL image {item.width}x{item.height} {item.mode}>"
    if isinstance(item, np.ndarray):
        return f"<{item.dtype} array {list(item.shape)}>"
    return str(item)


def item_views(
    item: ImageInput, input_size: int, views: Views, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """The uint8 ``[1 + crops, S, S, 3]`` views of one image, cut as ``embed`` cuts a file's.

    Raises:
        ImageLoadError: a file that cannot be decoded (`painter_match.data.views.view_pixels`).
    """
    if isinstance(item, np.ndarray):
        pixels = item[:, :, 0] if item.ndim == 3 and item.shape[2] == 1 else item  # Pillow has no [H, W, 1]
        item = Image.fromarray(np.ascontiguousarray(pixels))
    if isinstance(item, Image.Image):
        return image_views(to_rgb(item), input_size, views)
    return view_pixels(Path(item), input_size, views, max_pixels=max_pixels)


def _is_one(value: object) -> bool:
    if isinstance(value, (str, os.PathLike, Image.Image)):
        return True
    return isinstance(value, np.ndarray) and value.ndim in (2, 3)


def _check(item: ImageInput, where: str) -> None:
    if isinstance(item, np.ndarray):
        channels_ok = item.ndim == 2 or item.shape[2] in _CHANNELS
        if item.dtype != np.uint8 or not channels_ok or 0 in item.shape[:2]:
            raise ValueError(
                f"{where}: an image array must be uint8 pixels [H, W, 3] (RGB; [H, W] grey or [H, W, 4] RGBA "
                f"also do), got {describe(item)}; a float image in [0, 1] becomes one with "
                "(x * 255).round().astype(np.uint8), a [3, H, W] one with x.transpose(1, 2, 0)"
            )
    elif isinstance(item, (str, os.PathLike)) and not str(item):
        raise ValueError(f"{where}: an empty path")


def _no_image(value: object) -> str:
    kind = type(value).__name__
    if isinstance(value, (bytes, bytearray, memoryview)):
        return (
            f"{kind} of {len(value):,} bytes is not an image input; pass the file's path, a PIL image "
            "(PIL.Image.open(io.BytesIO(data))) or a uint8 array"
        )
    if isinstance(value, np.ndarray):
        return (
            f"an array of shape {list(value.shape)} is not an image; give [H, W, 3] or a batch [N, H, W, 3]"
        )
    return f"{kind} is not an image input; pass a path (str or Path), a PIL image or a uint8 [H, W, 3] array"


def as_path(item: ImageInput) -> Path | None:
    """The file ``item`` names, or None for an image in memory."""
    return Path(item) if isinstance(item, (str, os.PathLike)) else None
