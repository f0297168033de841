"""The record of what the painting finder did to one image, and the options that choose it.

`FoundPainting` travels with an image's embedding, into embeddings files, verdicts and reports,
long after the detection that made it; it is kept apart from the detection so that reading and
writing records needs nothing of it. `check_mode` and `check_edge` validate the
``find_painting`` and ``painting_edge`` options wherever they enter (API, commands, evaluation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

FindPaintingMode = Literal["auto", "on", "off"]
PaintingEdge = Literal["frame", "canvas"]
FIND_PAINTING_MODES: tuple[str, ...] = ("auto", "on", "off")
PAINTING_EDGES: tuple[str, ...] = ("frame", "canvas")

Quad = tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]]


@dataclass(frozen=True)
class FoundPainting:
    """What was done to one image before its views were cut: the record that travels with it.

    Attributes:
        mode: ``"auto"`` or ``"on"`` (``"off"`` makes no record).
        edge: ``"frame"`` or ``"canvas"``: which outline is cropped to.
        cropped: True when the views were cut from the rectified ``quad``; False: the whole image.
        reason: one line saying why, e.g. ``"painting on a wall"`` or
            ``"the outline covers 93% of the image (auto crops at most 70%)"``.
        quad: the quadrilateral embedded, in the original image's pixels (after EXIF
            orientation; x right, y down; top-left, top-right, bottom-right, bottom-left), or None.
        outline: the best outline found even when not used (for drawing), or None.
        image_size: (width, height) of the original image, the frame of ``quad``'s coordinates.
    """

    mode: str
    edge: str
    cropped: bool
    reason: str
    quad: Quad | None = None
    outline: Quad | None = None
    image_size: tuple[int, int] = (0, 0)
    measures: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (lists, floats rounded to 0.1 px); `from_json` reads it back."""
        return {
            "find_painting": self.mode,
            "edge": self.edge,
            "cropped": self.cropped,
            "reason": self.reason,
            "quad": _quad_json(self.quad),
            "outline": _quad_json(self.outline),
            "image_size": list(self.image_size),
            "measures": {k: round(v, 3) for k, v in self.measures.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FoundPainting:
        """Read `to_json`'s dict back; raises ValueError naming the field that is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"painting record must be an object, got {type(data).__name__}")
        mode = data.get("find_painting")
        edge = data.get("edge")
        if mode not in ("auto", "on"):
            raise ValueError(f"painting record: find_painting must be 'auto' or 'on', got {mode!r}")
        if edge not in PAINTING_EDGES:
            raise ValueError(f"painting record: edge must be 'frame' or 'canvas', got {edge!r}")
        size = data.get("image_size", [0, 0])
        if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) for v in size)):
            raise ValueError(f"painting record: image_size must be [width, height], got {size!r}")
        measures = data.get("measures", {})
        if not isinstance(measures, dict):
            raise ValueError(f"painting record: measures must be an object, got {measures!r}")
        return cls(
            mode=mode,
            edge=edge,
            cropped=bool(data.get("cropped")),
            reason=str(data.get("reason", "")),
            quad=_quad_from_json(data.get("quad"), "quad"),
            outline=_quad_from_json(data.get("outline"), "outline"),
            image_size=(size[0], size[1]),
            measures={str(k): float(v) for k, v in measures.items()},
        )


def check_mode(mode: str, *, name: str = "find_painting") -> FindPaintingMode:
    """Return ``mode`` if it is one of auto/on/off, else raise ValueError naming ``name``."""
    if mode not in FIND_PAINTING_MODES:
        raise ValueError(f"{name} must be one of {', '.join(FIND_PAINTING_MODES)}; got {mode!r}")
    return mode  # type: ignore[return-value]


def check_edge(edge: str, *, name: str = "painting_edge") -> PaintingEdge:
    """Return ``edge`` if it is frame or canvas, else raise ValueError naming ``name``."""
    if edge not in PAINTING_EDGES:
        raise ValueError(f"{name} must be one of {', '.join(PAINTING_EDGES)}; got {edge!r}")
    return edge  # type: ignore[return-value]


def as_quad(corners: np.ndarray) -> Quad:
    c = [(float(x), float(y)) for x, y in np.asarray(corners, dtype=np.float64).reshape(4, 2)]
    return (c[0], c[1], c[2], c[3])


def _quad_json(quad: Quad | None) -> list[list[float]] | None:
    return None if quad is None else [[round(x, 1), round(y, 1)] for x, y in quad]


def _quad_from_json(value: Any, name: str) -> Quad | None:
    if value is None:
        return None
    try:
        corners = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"painting record: {name} must be four [x, y] corners, got {value!r}") from error
    if corners.shape != (4, 2) or not np.isfinite(corners).all():
        raise ValueError(f"painting record: {name} must be four [x, y] corners, got {value!r}")
    return as_quad(corners)
