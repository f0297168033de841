"""A painting as a visitor's camera would give it back: a seeded, documented "photograph" of an image.

The model is judged on photographs of paintings (museums, phones, the web), while the shared
training sets are clean thumbnails. `photograph` turns a clean picture into a plausible photograph
of it, so that a held-out painting can be measured as a photograph of itself (the test copies,
`bench.photographed_copies`) and so that training can see such pictures (the feature
cache's ``photo*`` views, drawn from other seeds and `TRAINING_RANGES`).

Everything one strength does, in the order applied (``s`` is the strength, 0 to 1; every amount
is drawn uniformly between 0 and its maximum times ``s``, with the image's own seed):

1. up-scaling of a small thumbnail to a working size (long side 320), as a camera sees detail;
2. a frame (a band of a wood, gilt or black colour, up to ``frame`` of the shorter side) and a
   wall around it (up to ``wall`` of the size on each side, a pale colour with a gradient);
3. a perspective: each corner moved by up to ``perspective`` of the size (the picture taken at an
   angle);
4. glare: a soft bright ellipse of up to ``glare`` in brightness;
5. white balance and exposure: each channel scaled by up to ``cast`` either way, a gamma of up to
   ``exposure`` either way;
6. blur (a Gaussian of up to ``blur`` pixels at the working size), then sensor noise (up to
   ``noise`` grey levels);
7. down-scaling to up to ``downscale`` smaller (a distant or low-resolution shot) and JPEG at a
   quality down to ``95 - jpeg``.

At strength 0 the picture comes back unchanged. numpy and Pillow only.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

# Large enough that the model's 224 px view is cut from a sharper picture, small enough to be quick.
WORKING_SIDE = 320


@dataclass(frozen=True)
class PhotoRanges:
    """The largest amount of each effect at strength 1 (see the module's list)."""

    frame: float = 0.06
    wall: float = 0.12
    perspective: float = 0.08
    glare: float = 0.35
    cast: float = 0.15
    exposure: float = 0.3
    blur: float = 2.0
    noise: float = 8.0
    downscale: float = 0.6
    jpeg: float = 65.0


# The test copies' ranges (`painter_match.evaluation.yardsticks`).
TEST_RANGES = PhotoRanges()
# Training's ranges differ from the test copies', so that a recipe is not measured on the very
# distortions it learnt: no wall, a thinner frame, more colour cast, less perspective.
TRAINING_RANGES = PhotoRanges(
    frame=0.03,
    wall=0.0,
    perspective=0.05,
    glare=0.25,
    cast=0.2,
    exposure=0.35,
    blur=1.5,
    noise=6.0,
    downscale=0.5,
    jpeg=55.0,
)


def seed_for(name: str, salt: str) -> int:
    """A stable seed from an image's name and a salt (no dependence on Python's hash seed)."""
    return int.from_bytes(hashlib.sha256(f"{salt}\0{name}".encode()).digest()[:8], "little")


def photograph(
    image: Image.Image, strength: float, seed: int, ranges: PhotoRanges = TEST_RANGES
) -> Image.Image:
    """A photograph of ``image`` at ``strength`` (0: unchanged, 1: every effect at its maximum range).

    Args:
        image: an RGB picture of a painting.
        strength: 0 to 1.
        seed: the random draw; the same seed, strength and image give the same pixels.
        ranges: the maximum amount of each effect at strength 1.

    Raises:
        ValueError: ``strength`` outside [0, 1].
    """
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be between 0 and 1, got {strength}")
    image = image.convert("RGB")
    if strength == 0.0:
        return image.copy()
    rng = np.random.default_rng(seed)

    def amount(maximum: float) -> float:
        return float(rng.uniform(0.0, maximum * strength))

    scale = WORKING_SIDE / max(image.size)
    if scale > 1.0:
        image = image.resize(
            (round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC
        )
    image = _frame_and_wall(image, rng, amount(ranges.frame), amount(ranges.wall))
    image = _perspective(image, rng, amount(ranges.perspective))
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    pixels = _glare(pixels, rng, amount(ranges.glare))
    gains = 1.0 + rng.uniform(-1.0, 1.0, 3) * ranges.cast * strength
    gamma = float(np.exp(rng.uniform(-1.0, 1.0) * ranges.exposure * strength))
    pixels = np.clip(pixels * gains, 0.0, 1.0) ** gamma
    image = Image.fromarray((pixels * 255.0 + 0.5).astype(np.uint8))
    radius = amount(ranges.blur)
    if radius > 0.05:
        image = image.filter(ImageFilter.GaussianBlur(radius))
    sigma = amount(ranges.noise)
    noise = rng.standard_normal((image.height, image.width, 3), dtype=np.float32)
    noisy = np.asarray(image, dtype=np.float32) + noise * np.float32(sigma)
    image = Image.fromarray(np.clip(noisy + 0.5, 0, 255).astype(np.uint8))
    shrink = 1.0 - amount(ranges.downscale)
    if shrink < 0.99:
        size = (max(16, round(image.width * shrink)), max(16, round(image.height * shrink)))
        image = image.resize(size, Image.Resampling.BILINEAR)
    quality = int(round(95 - amount(ranges.jpeg)))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("RGB")


_FRAME_COLOURS = np.array([[92, 64, 40], [150, 118, 60], [30, 28, 26], [188, 160, 96], [120, 90, 70]])
_WALL_COLOURS = np.array([[232, 228, 218], [210, 214, 216], [200, 180, 160], [170, 60, 50], [90, 110, 120]])


def _frame_and_wall(image: Image.Image, rng: np.random.Generator, frame: float, wall: float) -> Image.Image:
    side = min(image.size)
    band = round(frame * side)
    if band >= 1:
        colour = _FRAME_COLOURS[rng.integers(len(_FRAME_COLOURS))] + rng.integers(-15, 16, 3)
        framed = Image.new(
            "RGB", (image.width + 2 * band, image.height + 2 * band), tuple(np.clip(colour, 0, 255))
        )
        framed.paste(image, (band, band))
        image = framed
    margin = round(wall * max(image.size))
    if margin < 1:
        return image
    width, height = image.width + 2 * margin, image.height + 2 * margin
    colour = _WALL_COLOURS[rng.integers(len(_WALL_COLOURS))].astype(np.float32)
    ramp = np.linspace(0.85, 1.1, height, dtype=np.float32)[:, None, None]
    background = np.clip(colour[None, None, :] * ramp * np.ones((1, width, 1), np.float32), 0, 255)
    canvas = Image.fromarray(background.astype(np.uint8))
    canvas.paste(image, (margin, margin))
    return canvas


def _perspective(image: Image.Image, rng: np.random.Generator, amount: float) -> Image.Image:
    if amount <= 0.002:
        return image
    width, height = image.size
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float64)
    moved = corners + rng.uniform(-amount, amount, (4, 2)) * np.array([width, height])
    coefficients = _perspective_coefficients(moved, corners)
    return image.transform(
        (width, height),
        Image.Transform.PERSPECTIVE,
        coefficients,
        Image.Resampling.BILINEAR,
        fillcolor=(128, 128, 128),
    )


def _perspective_coefficients(source: np.ndarray, target: np.ndarray) -> tuple[float, ...]:
    """The 8 coefficients Pillow's PERSPECTIVE transform needs to map ``target`` points to ``source``."""
    rows = []
    for (x, y), (u, v) in zip(target, source):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    solution = np.linalg.solve(np.array(rows), source.reshape(8))
    return tuple(float(c) for c in solution)


def _glare(pixels: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    if amount <= 0.01:
        return pixels
    height, width = pixels.shape[:2]
    cy, cx = rng.uniform(0.1, 0.9) * height, rng.uniform(0.1, 0.9) * width
    sy, sx = rng.uniform(0.08, 0.25) * height, rng.uniform(0.08, 0.25) * width
    y = (np.arange(height, dtype=np.float32)[:, None] - cy) / sy
    x = (np.arange(width, dtype=np.float32)[None, :] - cx) / sx
    spot = amount * np.exp(-0.5 * (x * x + y * y))
    return np.clip(pixels + spot[:, :, None] * (1.0 - pixels), 0.0, 1.0)
