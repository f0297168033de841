"""Decoding one image file into a fully loaded RGB image, within limits of painter-match's own.

`load_image` applies EXIF orientation, decodes JPEGs at reduced scale when only a small image is
needed, and replaces Pillow's decompression-bomb check with a limit on the pixels actually
decoded (`DEFAULT_MAX_PIXELS`) and on the pixels a resize would make (`MAX_RESIZED_PIXELS`),
both checked from the header before anything is decoded. Only a fixed set of decoders is
reachable, and every failure to read one file is an `ImageLoadError` naming that file.
"""

from __future__ import annotations

import contextlib
import stat
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from painter_match.data.image_colour import to_rgb
from painter_match.data.image_resizing import resized_size
from painter_match.errors import ImageLoadError, one_line

# The limit applies to the pixels actually decoded, i.e. after a JPEG has been reduced by
# `draft`, so any JPEG that is only needed small passes. 300 Mpx admits high-resolution
# scans of paintings that Pillow's own limits (89 Mpx warning, 179 Mpx error) would refuse,
# while bounding one decode to about 0.9 GB of RGB (1.2 GB for RGBA), which several loader
# threads can afford at once; beyond it a corrupt or hostile header is the likelier story.
DEFAULT_MAX_PIXELS: int = 300_000_000

# The most pixels resizing one image to the side its caller asked for (``min_side``) may make.
# The pixel limit above bounds the decode, not the resize: a 100000 x 1 strip is 100,000 pixels
# to decode but 9,600 x 960,000 once its shorter side is 96, which took 4 GB and 13 s. Checked
# from the header, before decoding. 16 Mpx (48 MB of RGB) admits an 80:1 scroll at the largest
# crop side in use (448 px); at sides above 2,000 px a 4:1 shape is always admitted.
MAX_RESIZED_PIXELS: int = 16_000_000

# Formats are matched by content, not by extension, so a PNG named .jpg still loads; but
# only these decoders are allowed, so a file named .jpg cannot reach an exotic plugin (EPS
# would even start Ghostscript). Multi-picture camera JPEGs come back from the JPEG opener
# with format "MPO"; naming "MPO" here would make `Image.open` raise KeyError, as Pillow
# registers no opener under that name.
_ALLOWED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF")
_ALLOWED_FORMATS_TEXT = "JPEG, PNG, WebP, BMP, TIFF and GIF"

# What Pillow raises for bad image data. Established by fuzzing truncated and byte-flipped
# files of every allowed format against Pillow 13: open/load raise OSError (including
# UnidentifiedImageError), SyntaxError ("broken PNG file"), ValueError ("Invalid
# dimensions", "Truncated IHDR chunk") and DecompressionBombError for headers claiming huge
# sizes; EOFError and struct.error are what Pillow's plugins raise internally for short data
# and are listed so that a path that does not wrap them still yields a clean error.
_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    Image.DecompressionBombError,
)

# JPEG's DCT can be decoded directly at these reduced scales, largest first.
_JPEG_DRAFT_SCALES: tuple[int, ...] = (8, 4, 2)


def load_image(
    path: str | Path,
    *,
    min_side: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Image.Image:
    """Decode one image file into a fully loaded RGB image.

    EXIF orientation is applied; transparent pixels are composited onto white; 16-bit
    images are scaled to 8 bits rather than clipped; float images have their range mapped
    to 0-255; CMYK, YCbCr, LAB and palette images are converted by Pillow. Multi-frame
    files (GIF, TIFF, WebP) give their first frame. The image is never upscaled.

    Args:
        path: The image file.
        min_side: The shorter side the caller will resize to. When given, a JPEG is decoded
            at 1/2, 1/4 or 1/8 scale if its shorter side stays at least ``min_side``, which
            makes large JPEGs decode many times faster. Other formats are decoded whole.
        max_pixels: The most pixels this call will decode (width x height after any JPEG
            reduction). Pillow's own decompression-bomb check is replaced by this limit.
            With ``min_side``, an image whose resize to that shorter side would exceed
            `MAX_RESIZED_PIXELS` (or ``4 * min_side**2`` when larger), a degenerate shape such
            as 100000 x 1, is refused too, before anything is decoded.

    Returns:
        A new image of mode ``"RGB"``, independent of the (closed) file.

    Raises:
        ImageLoadError: The file is missing, not a regular file, empty, not an image,
            corrupt, truncated, larger than ``max_pixels``, or too elongated to resize.
        ValueError: ``min_side`` or ``max_pixels`` is not a positive integer.
    """
    return load_image_sized(path, min_side=min_side, max_pixels=max_pixels)[0]


def load_image_sized(
    path: str | Path,
    *,
    min_side: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[Image.Image, tuple[int, int]]:
    """`load_image`, and the size of the original image the (possibly reduced) one stands for.

    Returns:
        The decoded image, and ``(width, height)`` of the file's full-resolution image after EXIF
        orientation: what coordinates measured on the decoded image are scaled to, so that a
        record of a region (the painting found in a photograph) names the original's pixels.
    """
    if min_side is not None and min_side < 1:
        raise ValueError(f"min_side must be a positive integer, got {min_side}")
    if max_pixels < 1:
        raise ValueError(f"max_pixels must be a positive integer, got {max_pixels}")
    path = Path(path)
    _check_regular_file(path)
    try:
        with _PILLOW_BOMB_CHECK.lifted():
            opened, full_size = _open_and_decode(path, min_side, max_pixels)
        with opened:
            decoded_size = opened.size
            ImageOps.exif_transpose(opened, in_place=True)
            if opened.size != decoded_size:  # rotated by a quarter turn: so is the original
                full_size = (full_size[1], full_size[0])
            image = to_rgb(opened)
            # Closing `opened` invalidates its pixels, so never hand it out itself.
            return (opened.copy() if image is opened else image), full_size
    except UnidentifiedImageError as error:
        raise ImageLoadError(
            path, f"not an image file, or a corrupt header (painter-match reads {_ALLOWED_FORMATS_TEXT})"
        ) from error
    except _DECODE_ERRORS as error:
        raise ImageLoadError(path, _describe_decode_error(error)) from error


class _BombCheckSwitch:
    """Switches off Pillow's decompression-bomb check while at least one load is running.

    Pillow reads the module global `Image.MAX_IMAGE_PIXELS` inside `Image.open` and inside
    some plugins' `load`, and offers no per-call way to change it; painter-match applies its
    own `max_pixels` to the decoded size instead, so Pillow's check has to be off during a
    load. This is the one place that sets the global. A reference count under a lock makes
    it safe for concurrent loads: the first load to start saves the user's value and sets
    None, the last one to finish puts it back, and no load ever sees it switched back on
    halfway. The cost is that other Pillow users in the same process are unchecked while a
    painter-match load is running; nothing is changed once none is.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._saved_limit: int | None = None

    @contextlib.contextmanager
    def lifted(self) -> Iterator[None]:
        """Keep Pillow's check off for the duration of the block."""
        with self._lock:
            if self._depth == 0:
                self._saved_limit = Image.MAX_IMAGE_PIXELS
                Image.MAX_IMAGE_PIXELS = None
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                # Leave alone a value someone else set while loads were running.
                if self._depth == 0 and Image.MAX_IMAGE_PIXELS is None:
                    Image.MAX_IMAGE_PIXELS = self._saved_limit


_PILLOW_BOMB_CHECK = _BombCheckSwitch()


def _check_regular_file(path: Path) -> None:
    """Raise `ImageLoadError` for the failures that are clearer before Pillow sees the file.

    A FIFO would block `open` forever, and Pillow reports an empty file only as
    unidentified.
    """
    try:
        info = path.stat()
    except FileNotFoundError as error:
        raise ImageLoadError(path, "file not found") from error
    except OSError as error:
        raise ImageLoadError(path, f"cannot read file: {error.strerror or error}") from error
    if stat.S_ISDIR(info.st_mode):
        raise ImageLoadError(path, "is a directory, not an image file")
    if not stat.S_ISREG(info.st_mode):
        raise ImageLoadError(path, "not a regular file")
    if info.st_size == 0:
        raise ImageLoadError(path, "empty file")


def _open_and_decode(
    path: Path, min_side: int | None, max_pixels: int
) -> tuple[Image.Image, tuple[int, int]]:
    """Open, reduce (JPEG only), size-check and decode one file; the file is closed on failure.
    Returns the image and the file's own size (before any JPEG reduction)."""
    image = Image.open(path, formats=_ALLOWED_FORMATS)
    full_size = image.size
    try:
        if min_side is not None and image.format in ("JPEG", "MPO"):
            _draft_jpeg(image, min_side)
        width, height = image.size
        if width * height > max_pixels:
            raise ImageLoadError(
                path,
                f"image is {width}x{height} = {width * height:,} pixels to decode, above the "
                f"limit of {max_pixels:,} (raise it with --max-pixels, or max_pixels= in Python, "
                "if the memory allows: about 8 bytes a pixel)",
            )
        if min_side is not None:
            _check_resizable(path, width, height, min_side)
        image.load()
    except BaseException:
        image.close()
        raise
    return image, full_size


def _check_resizable(path: Path, width: int, height: int, side: int) -> None:
    """Refuse, before decoding, an image whose resize to ``side`` would make a huge one."""
    new_width, new_height = resized_size(width, height, side)
    limit = max(MAX_RESIZED_PIXELS, 4 * side * side)
    if new_width * new_height > limit:
        ratio = max(width, height) / max(1, min(width, height))
        raise ImageLoadError(
            path,
            f"image is {width}x{height} (aspect ratio {ratio:,.0f}:1): resizing its shorter side to "
            f"{side} would make {new_width}x{new_height} = {new_width * new_height:,} pixels, above the "
            f"limit of {limit:,}; crop it to a less elongated shape to use it",
        )


def _draft_jpeg(image: Image.Image, min_side: int) -> None:
    """Ask the JPEG decoder for the smallest DCT scale keeping the shorter side >= min_side."""
    width, height = image.size
    shorter = min(width, height)
    for scale in _JPEG_DRAFT_SCALES:
        # Pillow rounds the drafted size up, so floor division here is the safe side.
        if shorter // scale >= min_side:
            # Pillow picks the largest of 8/4/2/1 not above min(width // w, height // h),
            # which for these floors is exactly `scale`.
            image.draft(None, (width // scale, height // scale))
            return


def _describe_decode_error(error: BaseException) -> str:
    """Turn an exception Pillow raised while reading an image into a short one-line cause."""
    if isinstance(error, FileNotFoundError):
        return "file not found"
    if isinstance(error, IsADirectoryError):
        return "is a directory, not an image file"
    if isinstance(error, PermissionError):
        return "permission denied"
    if isinstance(error, Image.DecompressionBombError):
        return f"image too large: {one_line(error)}"
    message = one_line(error)
    if isinstance(error, EOFError) or "truncated" in message.lower():
        return "truncated image data"
    if isinstance(error, OSError) and error.errno is not None:
        return f"cannot read file: {error.strerror or message}"
    return f"corrupt image data: {message}" if message else "corrupt image data"
