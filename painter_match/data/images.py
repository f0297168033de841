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
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import re
import stat
import struct
import threading
from collections.abc import Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from painter_match.errors import DataError, ImageLoadError, one_line

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
)

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

# Measured on a 6000x4000 image resized to a 256-pixel shorter side: BICUBIC with
# reducing_gap=3 is 3-6x faster than plain BICUBIC or LANCZOS and differs from plain BICUBIC
# by 0.3/255 on average (Pillow documents gap >= 3 as indistinguishable from fair
# resampling). Smaller gaps cost more (0.6/255 at gap 2, about 6/255 when box-reducing to
# just above the target), so load_image does no Image.reduce of its own.
_RESAMPLE = Image.Resampling.BICUBIC
_REDUCING_GAP = 3.0

_WHITE = (255, 255, 255)
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})


def is_image_name(name: str | Path) -> bool:
    """Tell whether a file name has one of the image extensions painter-match reads.

    Args:
        name: A file name or path; only its extension is looked at, case-insensitively.

    Returns:
        True when the extension is in `IMAGE_EXTENSIONS`.
    """
    return Path(name).suffix.lower() in IMAGE_EXTENSIONS


def find_images(root: str | Path) -> list[Path]:
    """List every image file under a folder, recursively, in a stable order.

    Hidden files and folders (names starting with ".", such as macOS ``._x.jpg`` or
    ``.ipynb_checkpoints``) are skipped. Symbolic links are followed only while their target
    stays inside ``root``, so the listing never leaves the folder the user named; a link to
    a folder that is already being walked (a loop) is skipped. A folder linked from two
    places inside ``root`` is listed under both.

    Args:
        root: The folder to walk.

    Returns:
        ``root / relative_path`` for each image, sorted by the relative path's POSIX string
        so that the order is the same on every run and machine.

    Raises:
        DataError: ``root`` does not exist, is not a folder, or a folder under it cannot be
            read.
    """
    root_path = Path(root)
    if not root_path.exists():
        raise DataError(f"image folder not found: {root_path}")
    if not root_path.is_dir():
        raise DataError(f"not a folder: {root_path}")
    real_root = Path(os.path.realpath(root_path))

    found: list[tuple[str, Path]] = []
    # Each entry: (path to list, its relative parts, its real path, real paths of the
    # folders above it). Ancestors are what a loop would revisit.
    pending: list[tuple[Path, tuple[str, ...], Path, frozenset[Path]]] = [
        (root_path, (), real_root, frozenset({real_root}))
    ]
    while pending:
        folder, parts, real_folder, ancestors = pending.pop()
        try:
            with os.scandir(folder) as entries:
                listing = list(entries)
        except OSError as error:
            raise DataError(f"cannot read folder {folder}: {error.strerror or error}") from error
        for entry in listing:
            if entry.name.startswith("."):
                continue
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir()
                is_file = not is_dir and entry.is_file()
            except OSError:
                continue  # vanished or unreadable while listing: nothing to load there
            rel_parts = (*parts, entry.name)
            if is_dir:
                real = Path(os.path.realpath(entry.path)) if is_link else real_folder / entry.name
                if not real.is_relative_to(real_root) or real in ancestors:
                    continue
                pending.append((Path(entry.path), rel_parts, real, ancestors | {real}))
            elif is_file and is_image_name(entry.name):
                if is_link and not Path(os.path.realpath(entry.path)).is_relative_to(real_root):
                    continue
                found.append(("/".join(rel_parts), root_path.joinpath(*rel_parts)))
    found.sort(key=lambda item: item[0])
    return [path for _, path in found]


_WINDOWS_ABSOLUTE = re.compile(r"^[A-Za-z]:[\\/]")


def name_problem(name: str) -> str | None:
    """Why a file name read from a CSV or an embeddings file cannot name a file inside its folder.

    Lexical only (no disk access), as `resolve_inside` checks before it follows links.

    Returns:
        The reason, worded to follow the name (``f"{name!r} {problem}"``), or None when the
        name is a usable relative path.
    """
    if not name:
        return "is empty; expected an image file name"
    if "\x00" in name:
        return "contains a NUL byte"
    # Windows-style absolute names are refused everywhere: a CSV written on Windows must not
    # become a file that happens to start with a backslash or a drive letter here.
    if name[0] in "\\/" or _WINDOWS_ABSOLUTE.match(name):
        return "is an absolute path; image names must be relative to the images folder"
    relative = posixpath.normpath(name)
    if relative in (posixpath.curdir, posixpath.pardir) or relative.startswith(posixpath.pardir + "/"):
        return "points outside the images folder; image names must be files inside it"
    return None


def normalise_name(name: str) -> str:
    """The one spelling of a relative image name: spaces around it removed, ``.``, ``..`` and
    doubled slashes collapsed (``./a.jpg``, ``sub/../a.jpg`` and ``a.jpg`` are all ``a.jpg``).

    Every command that matches names (pairs files, embeddings files, label files) compares
    them in this form, so the same pairs file gives the same result from images or embeddings.
    """
    name = name.strip()
    return posixpath.normpath(name) if name else name


def resolve_inside(root: str | Path, name: str) -> Path:
    """Join a file name read from a CSV to its folder, refusing names that leave the folder.

    Args:
        root: The folder the names are relative to.
        name: A relative file name such as ``"12345.jpg"`` or ``"train/12345.jpg"``.

    Returns:
        ``root / name`` with ``.`` and ``..`` collapsed, so that the path opened is the path
        that was checked. The file need not exist.

    Raises:
        DataError: ``name`` is empty, absolute, contains a NUL byte, names the folder
            itself, or would escape ``root`` through ``..`` or a symbolic link.
    """
    if not isinstance(name, str):
        raise DataError(f"image name must be text, got {name!r}")
    if not name.strip():
        raise DataError(f"empty image name {name!r} (in folder {root})")
    if "\x00" in name:
        raise DataError(f"image name {name!r} contains a NUL byte")
    # Windows-style absolute names are refused everywhere: a CSV written on Windows must
    # not become a file that happens to start with a backslash or a drive letter here.
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute() or name[0] in "\\/":
        raise DataError(f"image name {name!r} is an absolute path; expected a name relative to {root}")
    relative = os.path.normpath(name)
    if relative in (os.curdir, os.pardir) or relative.startswith(os.pardir + os.sep):
        raise DataError(f"image name {name!r} points outside the folder {root}")
    root_path = Path(root)
    candidate = root_path / relative
    try:
        real_root = root_path.resolve()
        real = candidate.resolve()
    except (OSError, RuntimeError) as error:  # RuntimeError: a symlink loop (Python < 3.13)
        raise DataError(f"image name {name!r} in {root} cannot be resolved: {error}") from error
    if real == real_root or not real.is_relative_to(real_root):
        raise DataError(f"image name {name!r} points outside the folder {root}")
    return candidate


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
            image = _to_rgb(opened)
            # Closing `opened` invalidates its pixels, so never hand it out itself.
            return (opened.copy() if image is opened else image), full_size
    except UnidentifiedImageError as error:
        raise ImageLoadError(
            path, f"not an image file, or a corrupt header (painter-match reads {_ALLOWED_FORMATS_TEXT})"
        ) from error
    except _DECODE_ERRORS as error:
        raise ImageLoadError(path, _describe_decode_error(error)) from error


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


def resized_size(width: int, height: int, side: int) -> tuple[int, int]:
    """The size `resize_shorter_side` gives a ``width`` x ``height`` image for ``side``."""
    if width <= height:
        return side, max(side, round(height * side / width))
    return max(side, round(width * side / height)), side


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
