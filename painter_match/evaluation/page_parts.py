"""What the report pages share: the image sides a page can afford (`image_sides`), a painting as
a figure (its thumbnail, or a box with the cause when it cannot be decoded; with the painting
finder's outline drawn over it) and the page itself, written atomically (`_write_page`)."""

from __future__ import annotations

import math
from pathlib import Path

from painter_match._version import __version__
from painter_match.atomic import write_bytes
from painter_match.data.painting_finder import FoundPainting
from painter_match.evaluation.render import Markup, render
from painter_match.evaluation.thumbnails import QUERY_SIDE, THUMB_SIDE, Thumbnail, ThumbnailCache

# A page's images cover at most the area of this many full-size thumbnails, or they all shrink
# (`image_sides`): why, and the sizes it gives, in the `painter_match.evaluation.html_report` docstring.
FULL_SIZE_IMAGES = 400
MIN_THUMB_SIDE = 96
_EMPTY = Markup("")


def image_sides(
    thumbnails: int, large: int = 0, thumb_side: int = THUMB_SIDE, large_side: int = QUERY_SIDE
) -> tuple[int, int]:
    """The thumbnail and large-image sides for a page of so many thumbnails and large images.

    Full size while their area is at most that of `FULL_SIZE_IMAGES` thumbnails of `THUMB_SIDE`;
    beyond, both sides shrink by one factor so that the area stays there, but thumbnails not below
    `MIN_THUMB_SIDE` nor large images below twice that.
    """
    area = thumbnails * thumb_side**2 + large * large_side**2
    budget = FULL_SIZE_IMAGES * THUMB_SIDE**2
    factor = min(1.0, math.sqrt(budget / area)) if area > 0 else 1.0
    thumb = min(thumb_side, max(MIN_THUMB_SIDE, round(thumb_side * factor)))
    large_shown = min(large_side, max(2 * MIN_THUMB_SIDE, round(large_side * factor)))
    return thumb, large_shown


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


def _image(thumbnail: Thumbnail, alt: str) -> Markup:
    if thumbnail.src is None:
        return render(
            "placeholder", alt=alt, cause=thumbnail.error, width=thumbnail.width, height=thumbnail.height
        )
    return render("image", src=thumbnail.src, width=thumbnail.width, height=thumbnail.height, alt=alt)


def _artist_line(artist: str | None) -> Markup:
    return render("artist", artist=artist) if artist is not None else _EMPTY


class _Unsaid:
    """Nothing to say about the painting finder (a page drawn without its records)."""


_UNSAID = _Unsaid()


def _painting(
    path: Path,
    name: str,
    artist: str | None,
    cache: ThumbnailCache,
    side: int,
    found: FoundPainting | None | _Unsaid = _UNSAID,
) -> Markup:
    thumbnail = cache.get(path, side)
    image = _image(thumbnail, name)
    note = _EMPTY
    if not isinstance(found, _Unsaid):
        image, note = _found(image, thumbnail, found)
    return render(
        "painting", path=str(path), image=image, name=name, artist=_artist_line(artist), finder=note
    )


def _found(image: Markup, thumbnail: Thumbnail, found: FoundPainting | None) -> tuple[Markup, Markup]:
    """The image with the quadrilateral embedded drawn over it, and the note under it: "painting
    found, ..." or "whole image (reason)"."""
    if found is None:
        return image, render(
            "finder_note", state="whole", cropped="false", text="whole image (painting finder off)"
        )
    if found.quad is None:
        return image, render(
            "finder_note", state="whole", cropped="false", text=f"whole image ({found.reason})"
        )
    text = f"painting found ({found.reason}): the outline drawn was embedded, straightened"
    note = render("finder_note", state="cropped", cropped="true", text=text)
    width, height = found.image_size
    if thumbnail.src is None or width <= 0 or height <= 0:
        return image, note  # no picture to draw on, or a record without the image's size
    # The quadrilateral is in the original image's pixels (after EXIF orientation), the thumbnail
    # is that image shrunk: one scale per axis (they differ by the rounding of the thumbnail's sides).
    sx, sy = thumbnail.width / width, thumbnail.height / height
    points = " ".join(f"{x * sx:.1f},{y * sy:.1f}" for x, y in found.quad)
    outlined = render(
        "outlined",
        image=image,
        width=thumbnail.width,
        height=thumbnail.height,
        points=points,
        label="the outline of the painting found, which was embedded",
    )
    return outlined, note


def _write_page(out_path: str | Path, title: str, subtitle: str, body: Markup) -> Path:
    page = render("page", title=title, subtitle=subtitle, body=body, version=__version__)
    return write_bytes(out_path, page.encode("utf-8"))
