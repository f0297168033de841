"""What was done to find the painting in each image, as the outputs keep it.

`painting_finder.FoundPainting` is the record of one image: cropped to a quadrilateral, or left
whole and why. This module turns a run's records into what its outputs carry:

* `to_arrays` / `from_arrays`: the embeddings file's columns (`embeddings.save_embeddings`), one
  row per embedded image: ``painting_quad`` and ``painting_outline`` (float32 ``[N, 4, 2]``, in
  the original image's pixels, NaN where there is none), ``painting_size`` (int32 ``[N, 2]``:
  width, height), ``painting_reason`` (int32 ``[N]``, an index into ``painting_reasons``, the
  distinct reason texts; -1 where the image was not looked at). Arrays rather than one JSON text
  per row: numpy keeps text as fixed-width UCS-4, which for 100k rows of 300 characters would be
  120 MB, where these are 9 MB, and the reasons repeat. The decision's measures are left out
  (``verify --json`` gives them).
* `record_json`: the JSON of one image's record, also when nothing was looked for (``off``).
* `summary`: the counts ``embed --json`` and ``evaluate --json`` print: how many cropped, how
  many left whole and why (reasons grouped by `reason_kind`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from painter_match.data.painting_finder import PAINTING_EDGES, FoundPainting, Quad

# The columns of an embeddings file that hold the records (all of them, or none).
ARRAY_KEYS = ("painting_quad", "painting_outline", "painting_size", "painting_reason", "painting_reasons")
# The reason given for an image nobody looked at: ``find_painting`` off (or a file made before it).
NOT_LOOKED = "not looked for (find_painting off)"


def to_arrays(records: Sequence[FoundPainting | None]) -> dict[str, np.ndarray]:
    """The embeddings file's columns for ``records`` (one per row; None: not looked at)."""
    count = len(records)
    quads = np.full((count, 4, 2), np.nan, dtype=np.float32)
    outlines = np.full((count, 4, 2), np.nan, dtype=np.float32)
    sizes = np.zeros((count, 2), dtype=np.int32)
    codes = np.full(count, -1, dtype=np.int32)
    texts: dict[str, int] = {}
    for row, found in enumerate(records):
        if found is None:
            continue
        if found.quad is not None:
            quads[row] = found.quad
        if found.outline is not None:
            outlines[row] = found.outline
        sizes[row] = found.image_size
        codes[row] = texts.setdefault(found.reason, len(texts))
    return {
        "painting_quad": quads,
        "painting_outline": outlines,
        "painting_size": sizes,
        "painting_reason": codes,
        "painting_reasons": np.asarray(list(texts), dtype=np.str_).reshape(len(texts)),
    }


def from_arrays(
    arrays: Mapping[str, np.ndarray], count: int, mode: str, edge: str
) -> list[FoundPainting | None]:
    """The records `to_arrays` wrote, for a file of ``count`` rows made with ``mode`` and ``edge``.

    Raises:
        ValueError: a column is missing or of the wrong shape or type, a reason index is out of
            range, or the file says its images were not looked at (``mode`` off) yet holds records.
    """
    missing = [key for key in ARRAY_KEYS if key not in arrays]
    if missing:
        raise ValueError(f"its painting records lack {', '.join(missing)}")
    quads = np.asarray(arrays["painting_quad"])
    outlines = np.asarray(arrays["painting_outline"])
    sizes = np.asarray(arrays["painting_size"])
    codes = np.asarray(arrays["painting_reason"])
    texts = np.asarray(arrays["painting_reasons"])
    for name, value, shape, kind in (
        ("painting_quad", quads, (count, 4, 2), "f"),
        ("painting_outline", outlines, (count, 4, 2), "f"),
        ("painting_size", sizes, (count, 2), "i"),
        ("painting_reason", codes, (count,), "i"),
    ):
        if value.shape != shape or value.dtype.kind != kind:
            raise ValueError(f"its {name} is {value.dtype} {value.shape}, not {shape}")
    if texts.ndim != 1 or texts.dtype.kind != "U":
        raise ValueError(f"its painting_reasons is {texts.dtype} {texts.shape}, not a list of texts")
    if count and (codes.min() < -1 or codes.max() >= len(texts)):
        raise ValueError(f"its painting_reason indices go outside the {len(texts)} reasons it lists")
    if (codes >= 0).any() and (mode not in ("auto", "on") or edge not in PAINTING_EDGES):
        raise ValueError(f"it holds painting records but says find_painting {mode!r}, edge {edge!r}")
    reasons = [str(text) for text in texts.tolist()]
    out: list[FoundPainting | None] = []
    for row, code in enumerate(codes.tolist()):
        if code < 0:
            out.append(None)
            continue
        quad = _quad(quads[row])
        out.append(
            FoundPainting(
                mode=mode,
                edge=edge,
                cropped=quad is not None,
                reason=reasons[code],
                quad=quad,
                outline=_quad(outlines[row]),
                image_size=(int(sizes[row, 0]), int(sizes[row, 1])),
            )
        )
    return out


def _quad(corners: np.ndarray) -> Quad | None:
    if not np.isfinite(corners).all():
        return None
    c = [(float(x), float(y)) for x, y in corners.tolist()]
    return (c[0], c[1], c[2], c[3])


def record_json(found: FoundPainting | None, mode: str = "off", edge: str = "frame") -> dict[str, Any]:
    """One image's record as ``--json`` prints it (`FoundPainting.to_json`); for an image nobody
    looked at (``mode`` off), a record of the same fields saying so."""
    if found is not None:
        return found.to_json()
    return {
        "find_painting": mode,
        "edge": edge,
        "cropped": False,
        "reason": NOT_LOOKED if mode == "off" else "no record",
        "quad": None,
        "outline": None,
        "image_size": None,
        "measures": {},
    }


_DETAIL = re.compile(r"\s*\(.*\)\s*$")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def reason_kind(reason: str) -> str:
    """A reason without its figures, so that counts group alike decisions: ``"the outline covers
    79% of the image (auto crops at most 70%)"`` -> ``"the outline covers N% of the image"``."""
    return _NUMBER.sub("N", _DETAIL.sub("", reason)) or reason


def summary(records: Sequence[FoundPainting | None], mode: str, edge: str) -> dict[str, Any]:
    """How many images were cropped to the painting and how many were left whole, and why.

    Returns:
        ``{"find_painting", "painting_edge", "images", "cropped", "whole", "whole_because"}``;
        ``whole_because`` maps each `reason_kind` to its count, most frequent first.
    """
    cropped = sum(1 for found in records if found is not None and found.cropped)
    because = Counter(
        NOT_LOOKED if found is None else reason_kind(found.reason)
        for found in records
        if found is None or not found.cropped
    )
    return {
        "find_painting": mode,
        "painting_edge": edge if mode != "off" else None,
        "images": len(records),
        "cropped": cropped,
        "whole": len(records) - cropped,
        "whole_because": dict(sorted(because.items(), key=lambda item: (-item[1], item[0]))),
    }


def summary_text(counts: Mapping[str, Any]) -> str:
    """`summary` in one line for a command's text output."""
    if counts["find_painting"] == "off":
        return "painting finder off: every image embedded whole"
    why = ", ".join(f"{n:,} {kind}" for kind, n in counts["whole_because"].items())
    return f"painting found and cropped in {counts['cropped']:,} of {counts['images']:,} images" + (
        f"; {counts['whole']:,} left whole ({why})" if counts["whole"] else ""
    )
