"""Any Pillow image as 8-bit RGB: 16-bit and float images scaled, transparency onto white.

`load_image` converts every decoded file this way, and images handed over already decoded
(Pillow images and arrays given to the API) go through `to_rgb`, so both reach the model alike.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

_WHITE = (255, 255, 255)
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow image as RGB, converted as `load_image` converts a decoded file (transparency
    composited onto white, 16-bit scaled): for images handed over already decoded."""
    return _to_rgb(image)


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB, compositing transparency onto white."""
    if image.mode in _SIXTEEN_BIT_MODES:
        # Pillow's own I;16 -> L conversion clips everything above 255 to white; scaling
        # by 1/257 maps 0..65535 exactly onto 0..255. Mode I (32-bit) is read the same way,
        # as older Pillow decoded 16-bit PNGs into it; values outside 0..65535 are clipped.
        values = np.asarray(image).astype(np.float32)
        values = np.clip(values, 0, 65535) / 257.0
        image = Image.fromarray(np.rint(values).astype(np.uint8))
    elif image.mode == "F":
        image = Image.fromarray(_float_to_uint8(np.asarray(image)))
    if image.mode == "RGB":
        return image
    if _has_transparency(image):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, _WHITE)
        background.paste(rgba, mask=rgba)  # an RGBA mask means "use its alpha band"
        return background
    # CMYK: Pillow reads CMYK JPEGs as Adobe-inverted ("CMYK;I"), which is what Photoshop
    # and Pillow itself write, and converts with R = (255 - C)(255 - K) / 255; embedded ICC
    # profiles are not applied. LAB -> RGB goes through Pillow's colorimetric conversion.
    return image.convert("RGB")


def _has_transparency(image: Image.Image) -> bool:
    """Tell whether an image carries alpha (`Image.has_transparency_data`, new in Pillow 10.1)."""
    if image.mode in ("LA", "La", "PA", "RGBA", "RGBa") or "transparency" in image.info:
        return True
    return image.mode == "P" and image.palette is not None and image.palette.mode.endswith("A")


def _float_to_uint8(values: np.ndarray) -> np.ndarray:
    """Map a float image's finite range onto 0..255 (a constant image becomes black)."""
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros(values.shape, dtype=np.uint8)
    low = float(values[finite].min())
    high = float(values[finite].max())
    values = np.nan_to_num(values.astype(np.float64), nan=low, posinf=high, neginf=low)
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.rint((values - low) * (255.0 / (high - low))).astype(np.uint8)
