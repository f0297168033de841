"""Seeded synthetic gallery photographs with a known painting outline, for testing the painting finder.

`composite` paints a synthetic painting (`painter_match.data.synth`'s brushwork), puts it in a
frame (wood, gilt, black or white, with a lip and sometimes a mat), hangs it on a wall lit by a
spotlight, and photographs it: a perspective (each corner moved by up to ``perspective`` of the
size), a soft shadow, a wall label, clutter (a floor line, a neighbouring painting cut by the
picture's edge), glare and sensor noise. It returns the picture with the exact quadrilaterals of
the frame's outer edge and of the canvas, so that a finder's outline can be scored by IoU
(`painting_finder.quad_iou`). Everything is drawn from ``numpy.random.default_rng(seed)``, so the
same seed always gives the same picture. Never real photographs: the shared gallery photos are
development data, not fixtures. numpy, Pillow and OpenCV.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from painter_match.data.synth.style import _render, _sample_style

_FRAME_COLOURS = {
    "wood": (120, 80, 45),
    "gilt": (185, 150, 70),
    "black": (30, 30, 32),
    "white": (235, 232, 225),
}


@dataclass(frozen=True)
class Composite:
    """One synthetic photograph and where its painting is.

    Attributes:
        image: the RGB photograph.
        frame: the frame's outer edge (top-left, top-right, bottom-right, bottom-left), pixels;
            the canvas's own edge when there is no frame.
        canvas: the painted surface's edge, pixels.
        framed: whether the painting has a frame.
    """

    image: Image.Image
    frame: np.ndarray
    canvas: np.ndarray
    framed: bool


def painting(seed: int, width: int, height: int) -> Image.Image:
    """A synthetic painting of ``width`` x ``height`` in one seeded artist's style."""
    rng = np.random.default_rng([seed, 1])
    return _render(_sample_style(rng), rng, width, height)


def framed_painting(
    seed: int,
    width: int,
    height: int,
    *,
    frame: str = "wood",
    frame_share: float = 0.08,
    mat_share: float = 0.0,
) -> tuple[Image.Image, tuple[float, float, float, float]]:
    """A painting in its frame, flat: the image and the canvas's box ``(left, top, right, bottom)``.

    Args:
        seed: the painting's seed.
        width, height: the painting's size, pixels.
        frame: one of wood, gilt, black, white; "none" for a bare canvas.
        frame_share: the frame's width as a share of the painting's shorter side.
        mat_share: a white mat between frame and painting, as a share of the shorter side.
    """
    art = painting(seed, width, height)
    if frame == "none":
        return art, (0.0, 0.0, float(width), float(height))
    band = max(3, round(frame_share * min(width, height)))
    mat = round(mat_share * min(width, height))
    inner = band + mat
    out = Image.new("RGB", (width + 2 * inner, height + 2 * inner), _FRAME_COLOURS[frame])
    draw = ImageDraw.Draw(out)
    base = np.array(_FRAME_COLOURS[frame], dtype=float)
    # A moulding: a lighter outer bevel, a darker lip next to the canvas (or mat).
    light = tuple(int(v) for v in np.clip(base * 1.25 + 15, 0, 255))
    dark = tuple(int(v) for v in np.clip(base * 0.6, 0, 255))
    bevel = max(1, band // 4)
    draw.rectangle((0, 0, out.width - 1, out.height - 1), outline=light, width=bevel)
    lip = max(1, band // 5)
    draw.rectangle(
        (band - lip, band - lip, out.width - band + lip - 1, out.height - band + lip - 1),
        outline=dark,
        width=lip,
    )
    if mat:
        draw.rectangle((band, band, out.width - band - 1, out.height - band - 1), fill=(242, 240, 234))
    out.paste(art, (inner, inner))
    return out, (float(inner), float(inner), float(inner + width), float(inner + height))


def composite(
    seed: int,
    *,
    size: tuple[int, int] | None = None,
    perspective: float = 0.05,
    frame: str | None = None,
    glare: bool = True,
    clutter: bool = True,
) -> Composite:
    """A synthetic photograph of a framed painting on a gallery wall (see the module docstring).

    Args:
        seed: every random choice derives from it.
        size: (width, height) of the photograph; None draws it (480 to 800 px a side).
        perspective: each corner of the framed painting moves by up to this share of its size.
        frame: wood, gilt, black, white or none; None draws one (a fifth of them bare canvases).
        glare: add a soft bright spot over the painting.
        clutter: add a label, and sometimes a floor line and a neighbouring painting at the edge.
    """
    import cv2

    rng = np.random.default_rng([seed, 0])
    width, height = size if size is not None else (int(rng.integers(480, 801)), int(rng.integers(480, 801)))
    wall = _wall(rng, width, height)

    kind = frame if frame is not None else str(rng.choice(["wood", "gilt", "black", "white", "none"]))
    aspect = float(np.exp(rng.uniform(np.log(0.65), np.log(1.5))))
    share = float(rng.uniform(0.18, 0.5))  # of the photo's area, framed painting included
    target_w = np.sqrt(share * width * height * aspect)
    target_h = target_w / aspect
    scale = min(1.0, 0.85 * width / target_w, 0.85 * height / target_h)
    target_w, target_h = target_w * scale, target_h * scale
    mat = float(rng.uniform(0.08, 0.2)) if kind != "none" and rng.random() < 0.3 else 0.0
    flat, box = framed_painting(
        seed,
        240,
        max(120, round(240 / aspect)),
        frame=kind,
        frame_share=float(rng.uniform(0.05, 0.12)),
        mat_share=mat,
    )

    # Where the framed painting's corners land: centred with a jitter, each corner moved.
    cx = width / 2 + rng.uniform(-0.12, 0.12) * (width - target_w)
    cy = height / 2 + rng.uniform(-0.12, 0.12) * (height - target_h)
    corners = np.array(
        [[cx - target_w / 2, cy - target_h / 2], [cx + target_w / 2, cy - target_h / 2],
         [cx + target_w / 2, cy + target_h / 2], [cx - target_w / 2, cy + target_h / 2]]
    )  # fmt: skip
    corners += rng.uniform(-perspective, perspective, (4, 2)) * [target_w, target_h]
    source = np.array(
        [[0, 0], [flat.width, 0], [flat.width, flat.height], [0, flat.height]], dtype=np.float32
    )
    matrix = cv2.getPerspectiveTransform(source, corners.astype(np.float32))

    # A soft shadow down and to the right, then the painting over it.
    mask = cv2.warpPerspective(np.full((flat.height, flat.width), 255, np.uint8), matrix, (width, height))
    offset = np.array([[1, 0, rng.uniform(2, 8)], [0, 1, rng.uniform(3, 10)]], dtype=np.float32)
    shadow = (
        cv2.GaussianBlur(cv2.warpAffine(mask, offset, (width, height)), (0, 0), 4).astype(np.float32) / 255
    )
    wall = wall * (1 - 0.35 * shadow[..., None])
    warped = cv2.warpPerspective(np.asarray(flat), matrix, (width, height), flags=cv2.INTER_AREA)
    alpha = (
        cv2.warpPerspective(
            np.full((flat.height, flat.width), 255, np.uint8), matrix, (width, height), flags=cv2.INTER_LINEAR
        )[..., None].astype(np.float32)
        / 255
    )
    photo = wall * (1 - alpha) + warped.astype(np.float32) * alpha

    if glare:
        gx, gy = corners.mean(0) + rng.uniform(-0.25, 0.25, 2) * [target_w, target_h]
        yy, xx = np.mgrid[0:height, 0:width]
        radius = rng.uniform(0.08, 0.2) * min(target_w, target_h)
        spot = np.exp(-(((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * radius**2)))
        photo = photo + rng.uniform(40, 110) * (spot * alpha[..., 0])[..., None]
    if clutter:
        photo = _clutter(rng, photo, corners)
    photo = photo + rng.normal(0, 2.5, photo.shape)
    image = Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.6))

    to_photo = cv2.perspectiveTransform
    canvas_box = np.array(
        [[box[0], box[1]], [box[2], box[1]], [box[2], box[3]], [box[0], box[3]]], dtype=np.float32
    ).reshape(-1, 1, 2)
    canvas = to_photo(canvas_box, matrix).reshape(4, 2).astype(np.float64)
    return Composite(image=image, frame=corners.astype(np.float64), canvas=canvas, framed=kind != "none")


def _wall(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A pale wall: one colour, a spotlight's fall-off and a faint plaster grain, float RGB."""
    hue = rng.uniform(0, 1)
    base = 255 * np.array(_hsv(hue, rng.uniform(0.02, 0.12), rng.uniform(0.62, 0.93)))
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    lx, ly = rng.uniform(0.2, 0.8) * width, rng.uniform(-0.3, 0.3) * height
    fall = np.sqrt((xx - lx) ** 2 + (yy - ly) ** 2) / np.hypot(width, height)
    light = 1.1 - rng.uniform(0.2, 0.45) * fall
    coarse = rng.normal(0, 1.5, (height // 4 + 1, width // 4 + 1))
    grain = np.kron(coarse, np.ones((4, 4)))[:height, :width]
    return np.clip(base[None, None, :] * light[..., None] + grain[..., None], 0, 255)


def _clutter(rng: np.random.Generator, photo: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """A wall label beside the painting, and sometimes a floor line and a neighbour at the edge."""
    height, width = photo.shape[:2]
    right = corners[:, 0].max()
    top, bottom = corners[:, 1].min(), corners[:, 1].max()
    label_w, label_h = max(8, int(0.05 * width)), max(5, int(0.03 * height))
    lx = int(min(width - label_w - 1, right + rng.uniform(0.02, 0.06) * width))
    ly = int(top + rng.uniform(0.5, 0.8) * (bottom - top))
    if lx > right and ly + label_h < height:
        photo[ly : ly + label_h, lx : lx + label_w] = 245
        for row in range(ly + 2, ly + label_h - 1, 3):
            photo[row, lx + 2 : lx + label_w - 2] = 90
    if rng.random() < 0.4:  # the floor
        floor = int(height * rng.uniform(0.93, 0.98))
        if floor > bottom + 4:
            photo[floor:] = photo[floor:] * 0.55
    if rng.random() < 0.3:  # a neighbouring painting cut by the left or right edge
        w = int(rng.uniform(0.04, 0.08) * width)
        y0, y1 = int(top + 0.1 * (bottom - top)), int(bottom - 0.1 * (bottom - top))
        colour = rng.uniform(40, 200, 3)
        if corners[:, 0].min() > w + 8 and rng.random() < 0.5:
            photo[y0:y1, :w] = colour
        elif right < width - w - 8:
            photo[y0:y1, width - w :] = colour
    return photo


def _hsv(h: float, s: float, v: float) -> tuple[float, float, float]:
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    return [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
