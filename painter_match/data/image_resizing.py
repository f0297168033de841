"""Resizing an image to a shorter side and cutting its central square: the model's crop.

Kept apart from decoding so that training augmentation and the feature cache, which resize
images they already hold, share the one resampling setting with `load_pixels`.
"""

from __future__ import annotations

from PIL import Image

# Measured on a 6000x4000 image resized to a 256-pixel shorter side: BICUBIC with
# reducing_gap=3 is 3-6x faster than plain BICUBIC or LANCZOS and differs from plain BICUBIC
# by 0.3/255 on average (Pillow documents gap >= 3 as indistinguishable from fair
# resampling). Smaller gaps cost more (0.6/255 at gap 2, about 6/255 when box-reducing to
# just above the target), so load_image does no Image.reduce of its own.
_RESAMPLE = Image.Resampling.BICUBIC
_REDUCING_GAP = 3.0


def resize_shorter_side(image: Image.Image, size: int) -> Image.Image:
    """Resize an image so that its shorter side is ``size``, keeping the aspect ratio.

    Args:
        image: The image to resize.
        size: The wanted length of the shorter side, in pixels.

    Returns:
        The resized image (bicubic, with Pillow's ``reducing_gap`` shortcut for large
        reductions), or ``image`` itself when its shorter side already is ``size``.

    Raises:
        ValueError: ``size`` is not a positive integer.
    """
    if size < 1:
        raise ValueError(f"size must be a positive integer, got {size}")
    width, height = image.size
    if min(width, height) == size:
        return image
    return image.resize(resized_size(width, height, size), _RESAMPLE, reducing_gap=_REDUCING_GAP)


def center_crop(image: Image.Image, size: int) -> Image.Image:
    """Cut the central ``size`` x ``size`` square out of an image.

    Args:
        image: An image whose sides are both at least ``size``.
        size: The side of the square, in pixels.

    Returns:
        The cropped image. When the margin is odd, the extra pixel is left on the right or
        bottom.

    Raises:
        ValueError: ``size`` is not positive, or the image is smaller than ``size`` on a side.
    """
    if size < 1:
        raise ValueError(f"crop size must be a positive integer, got {size}")
    width, height = image.size
    if width < size or height < size:
        raise ValueError(f"cannot take a {size}x{size} centre crop of a {width}x{height} image")
    left = (width - size) // 2
    top = (height - size) // 2
    return image.crop((left, top, left + size, top + size))


def resized_size(width: int, height: int, side: int) -> tuple[int, int]:
    """The size `resize_shorter_side` gives a ``width`` x ``height`` image for ``side``."""
    if width <= height:
        return side, max(side, round(height * side / width))
    return max(side, round(width * side / height)), side
