"""The style model: each synthetic artist is a palette, a brushwork, a texture and a composition, and
each painting samples from its artist's style with jitter (`_render`)."""

from __future__ import annotations

import colorsys
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageDraw

from painter_match.data.synth.config import _MAX_STROKES

# Shared palettes ("schools"), HSV in [0, 1]. Several artists draw from each, so a palette does
# not identify its painter.
_SCHOOLS: tuple[tuple[tuple[float, float, float], ...], ...] = (
    # earth: ochres, umbers, olive, cream
    (
        (0.08, 0.55, 0.55), (0.11, 0.60, 0.78), (0.06, 0.50, 0.35), (0.16, 0.35, 0.45),
        (0.10, 0.20, 0.88), (0.05, 0.60, 0.20), (0.55, 0.25, 0.45),
    ),
    # open-air light: sky blue, lilac, straw, leaf, rose
    (
        (0.57, 0.35, 0.88), (0.75, 0.25, 0.78), (0.15, 0.45, 0.95), (0.30, 0.40, 0.68),
        (0.95, 0.30, 0.90), (0.50, 0.20, 0.95), (0.62, 0.50, 0.60),
    ),
    # pure colour: vermilion, orange, cobalt, emerald, cadmium
    (
        (0.00, 0.85, 0.85), (0.07, 0.90, 0.95), (0.63, 0.85, 0.70), (0.40, 0.80, 0.60),
        (0.14, 0.85, 0.95), (0.85, 0.70, 0.70), (0.55, 0.70, 0.80),
    ),
    # nocturne: navy, teal, slate, near-black, lamp gold
    (
        (0.62, 0.70, 0.30), (0.50, 0.50, 0.38), (0.60, 0.20, 0.55), (0.00, 0.00, 0.10),
        (0.12, 0.55, 0.82), (0.70, 0.40, 0.22), (0.55, 0.30, 0.70),
    ),
    # pastel: pinks, powder blue, mint, cream
    (
        (0.95, 0.25, 0.95), (0.58, 0.25, 0.92), (0.40, 0.25, 0.88), (0.12, 0.20, 0.97),
        (0.80, 0.18, 0.85), (0.05, 0.30, 0.90), (0.50, 0.15, 0.75),
    ),
    # greys with one accent
    (
        (0.00, 0.00, 0.50), (0.60, 0.06, 0.70), (0.10, 0.08, 0.30), (0.00, 0.00, 0.90),
        (0.02, 0.80, 0.70), (0.10, 0.05, 0.15), (0.55, 0.10, 0.55),
    ),
)  # fmt: skip

# Per-painting colour variation (see _painting_palette), tuned so that the colour-histogram
# baseline lands near ROC AUC 0.65: informative, far from solving the task.
_BORROW, _HUE_SHIFT, _SAT_SHIFT, _VALUE_SHIFT = 0.25, 0.08, 0.3, 0.22

# Brushwork: the mark each stroke leaves.
_LINE, _CURVE, _DAB, _DOT, _BLOCK = range(5)
# Stroke orientation: one direction, any direction, a smooth swirling field, about a centre, two directions.
_FIXED, _RANDOM, _FLOW, _RADIAL, _CROSS = range(5)
# Composition: how the colours are laid out over the canvas.
_HORIZON, _BLOB, _DIAGONAL, _GRID, _BANDS, _FIELD = range(6)


@dataclass(frozen=True)
class _Style:
    """One artist's hand. Lengths and widths are fractions of sqrt(width * height)."""

    palette: tuple[tuple[float, float, float], ...]  # HSV
    kind: int
    length: float
    width: float
    curvature: float
    bend_sign: float  # +1/-1: always bends one way; 0: either way
    orientation: int
    angle: float
    angle_spread: float
    cross_angle: float
    flow_amplitude: float
    flow_frequency: float
    radial_offset: float
    coverage: float
    alpha: int
    colour_jitter: float
    impasto: float
    light_angle: float
    outline: float
    grain: float
    grain_cell: float
    weave: float
    weave_period: float
    composition: int
    composition_param: float
    ground: tuple[float, float, float] | None  # HSV of a toned ground, or None: blocked-in colours
    under_tone: float
    portrait_share: float


def _sample_style(rng: np.random.Generator) -> _Style:
    """Draw one artist's style. Brushwork archetypes are far apart so artists are distinguishable."""
    # Mostly one school's colours plus a few of a second one's, so that palettes overlap
    # between artists in graded ways rather than in a few disjoint clusters.
    first, second = (_SCHOOLS[int(k)] for k in rng.choice(len(_SCHOOLS), size=2, replace=False))
    colours = [first[i] for i in sorted(rng.choice(len(first), size=int(rng.integers(4, 6)), replace=False))]
    colours += [second[i] for i in rng.choice(len(second), size=int(rng.integers(1, 3)), replace=False)]
    palette = tuple(
        (
            float((h + rng.normal(0, 0.025)) % 1.0),
            float(np.clip(s * math.exp(rng.normal(0, 0.15)), 0, 1)),
            float(np.clip(v * math.exp(rng.normal(0, 0.12)), 0.05, 1)),
        )
        for h, s, v in colours
    )

    archetype = int(rng.integers(7))
    curvature, bend_sign = 0.0, 0.0
    if archetype == 0:  # long sweeping curves
        kind, length, width = _CURVE, rng.uniform(0.15, 0.30), rng.uniform(0.008, 0.018)
        curvature = rng.uniform(0.05, 0.3)
        orientation = int(rng.choice([_FIXED, _FLOW]))
    elif archetype == 1:  # medium straight dashes
        kind, length, width = _LINE, rng.uniform(0.06, 0.12), rng.uniform(0.012, 0.025)
        orientation = int(rng.choice([_FIXED, _RANDOM, _FIXED, _RADIAL]))
    elif archetype == 2:  # short oval dabs
        kind, length = _DAB, rng.uniform(0.025, 0.05)
        width = length / rng.uniform(1.6, 3.0)
        orientation = int(rng.choice([_FIXED, _RANDOM, _FLOW]))
    elif archetype == 3:  # dots
        kind, length = _DOT, rng.uniform(0.010, 0.022)
        width = length
        orientation = _RANDOM
    elif archetype == 4:  # thin hatching
        kind, length, width = _LINE, rng.uniform(0.04, 0.09), rng.uniform(0.004, 0.007)
        orientation = int(rng.choice([_CROSS, _FIXED]))
    elif archetype == 5:  # flat constructive patches
        kind, length, width = _BLOCK, rng.uniform(0.05, 0.10), rng.uniform(0.03, 0.06)
        orientation = int(rng.choice([_FIXED, _RANDOM]))
    else:  # tight swirls
        kind, length, width = _CURVE, rng.uniform(0.08, 0.16), rng.uniform(0.010, 0.020)
        curvature = rng.uniform(0.35, 0.6)
        orientation = int(rng.choice([_FLOW, _RADIAL]))
    if kind == _CURVE:
        bend_sign = float(rng.choice([-1.0, 1.0, 0.0]))

    impasto = float(rng.uniform(0.3, 0.8)) if rng.random() < 0.4 else 0.0
    outline = float(rng.uniform(0.2, 0.5)) if rng.random() < 0.15 else 0.0
    glazer = rng.random() < 0.25
    ground: tuple[float, float, float] | None = None
    if rng.random() < 0.35:
        ground = (
            float(rng.uniform(0.05, 0.12)),
            float(rng.uniform(0.05, 0.5)),
            float(rng.uniform(0.2, 0.95)),
        )
    composition = int(rng.integers(6))
    return _Style(
        palette=palette,
        kind=kind,
        length=float(length),
        width=float(width),
        curvature=float(curvature),
        bend_sign=bend_sign,
        orientation=orientation,
        angle=float(rng.uniform(0, math.pi)),
        angle_spread=float(rng.uniform(0.05, 0.3)),
        cross_angle=float(rng.uniform(math.pi / 3, math.pi / 2)),
        flow_amplitude=float(rng.uniform(0.6, 1.3)),
        flow_frequency=float(rng.uniform(0.6, 2.0)),
        radial_offset=float(rng.choice([0.0, math.pi / 2])),
        coverage=float(rng.uniform(0.9, 2.0)),
        alpha=int(rng.uniform(90, 180)) if glazer else 255,
        colour_jitter=float(rng.uniform(0.03, 0.12)),
        impasto=impasto,
        light_angle=float(rng.uniform(0, 2 * math.pi)),
        outline=outline,
        grain=float(rng.uniform(0, 12)),
        grain_cell=float(rng.uniform(0.002, 0.008)),
        weave=float(rng.uniform(3, 10)) if rng.random() < 0.4 else 0.0,
        weave_period=float(rng.uniform(0.012, 0.022)),
        composition=composition,
        composition_param=float(rng.uniform(0, 1)),
        ground=ground,
        under_tone=float(rng.uniform(0.7, 1.05)),
        portrait_share=float(rng.uniform(0.15, 0.85)),
    )


def _hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    """[N, 3] HSV in [0, 1] to [N, 3] RGB floats in [0, 255]."""
    return (
        np.array([colorsys.hsv_to_rgb(*row) for row in hsv.tolist()], dtype=np.float64).reshape(-1, 3) * 255.0
    )


def _painting_palette(style: _Style, rng: np.random.Generator) -> np.ndarray:
    """The colours of one painting: a subset of the artist's palette, shifted in hue and light.

    The shifts are what keep a colour histogram from identifying the artist.
    """
    palette = np.array(style.palette)
    m = int(rng.integers(3, len(palette) + 1))
    hsv = palette[rng.choice(len(palette), size=m, replace=False)].copy()
    # A colour or two from any school: a painter's palette is not fixed for life.
    for k in rng.choice(m, size=int(rng.binomial(2, _BORROW)), replace=False):
        school = _SCHOOLS[int(rng.integers(len(_SCHOOLS)))]
        hsv[k] = school[int(rng.integers(len(school)))]
    hsv[:, 0] = (hsv[:, 0] + rng.normal(0, _HUE_SHIFT) + rng.normal(0, 0.02, m)) % 1.0
    hsv[:, 1] = np.clip(hsv[:, 1] * math.exp(rng.normal(0, _SAT_SHIFT)), 0, 1)
    hsv[:, 2] = np.clip(hsv[:, 2] * math.exp(rng.normal(0, _VALUE_SHIFT)) + rng.normal(0, 0.05, m), 0.04, 1)
    return _hsv_to_rgb(hsv)


def _layout_field(
    style: _Style, rng: np.random.Generator, aspect: float
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A function of normalised coordinates (u, v in [0, 1]) giving a value in [0, 1]: the composition.

    Zones of the value get different colours; the artist's composition type fixes its shape,
    and the painting varies its parameters.
    """
    comp = style.composition
    base = style.composition_param
    if comp == _HORIZON:
        h0 = float(np.clip(0.25 + 0.5 * base + rng.normal(0, 0.08), 0.15, 0.85))
        wobble, freq, phase = rng.uniform(0, 0.06), rng.uniform(0.5, 3), rng.uniform(0, 2 * math.pi)

        def field(u: np.ndarray, v: np.ndarray) -> np.ndarray:
            h = h0 + wobble * np.sin(2 * math.pi * freq * u + phase)
            return np.where(v < h, 0.45 * v / h, 0.55 + 0.45 * (v - h) / (1 - h))

    elif comp == _BLOB:
        cx, cy = 0.5 + rng.normal(0, 0.1), 0.5 + rng.normal(0, 0.1)
        r = rng.uniform(0.15, 0.3) * (0.7 + 0.6 * base)
        sx = 1.0 / max(aspect, 1e-6) ** 0.5

        def field(u: np.ndarray, v: np.ndarray) -> np.ndarray:
            d = np.hypot((u - cx) / sx, (v - cy) * sx)
            return np.clip(d / (2.5 * r), 0, 1)

    elif comp == _DIAGONAL:
        phi = math.pi * base + rng.normal(0, 0.2)
        c, s = math.cos(phi), math.sin(phi)
        offset = rng.normal(0, 0.1)

        def field(u: np.ndarray, v: np.ndarray) -> np.ndarray:
            p = (u - 0.5) * c + (v - 0.5) * s + offset
            return np.clip(0.5 + 0.3 * np.sign(p) + 0.4 * p, 0, 1)

    elif comp == _GRID:
        nx, ny = int(rng.integers(2, 4 + int(3 * base))), int(rng.integers(2, 4 + int(3 * base)))
        cells = rng.random((ny, nx))
        xs, ys = np.sort(rng.dirichlet(np.ones(nx)).cumsum()), np.sort(rng.dirichlet(np.ones(ny)).cumsum())

        def field(u: np.ndarray, v: np.ndarray) -> np.ndarray:
            ix = np.minimum(np.searchsorted(xs, u), nx - 1)
            iy = np.minimum(np.searchsorted(ys, v), ny - 1)
            return cells[iy, ix]

    elif comp == _BANDS:
        n = int(rng.integers(3, 8))
        values = rng.random(n)
        edges = np.sort(rng.dirichlet(np.ones(n)).cumsum())
        vertical = base < 0.5

        def field(u: np.ndarray, v: np.ndarray) -> np.ndarray:
            t = u if vertical else v
            return values[np.minimum(np.searchsorted(edges, t), n - 1)]

    else:  # _FIELD: a low-frequency wave field
        waves = [
            (rng.uniform(0.5, 2.5) * (1 + base), rng.uniform(0, 2 * math.pi), rng.uniform(0, 2 * math.pi))
            for _ in range(3)
        ]

        def field(u: np.ndarray, v: np.ndarray) -> np.ndarray:
            total = np.zeros(np.broadcast(u, v).shape)
            for f, theta, phase in waves:
                total += np.sin(2 * math.pi * f * (u * math.cos(theta) + v * math.sin(theta)) + phase)
            return np.clip(0.5 + total / 6.0, 0, 1)

    return field


def _zones(field: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
    """Palette indices for field values, with ragged edges between zones."""
    noisy = field + rng.normal(0, 0.06, size=np.shape(field))
    return np.clip((noisy * m).astype(np.int64), 0, m - 1)


def _orientations(
    style: _Style, rng: np.random.Generator, u: np.ndarray, v: np.ndarray, angle: float
) -> np.ndarray:
    n = u.size
    if style.orientation == _FIXED:
        return angle + rng.normal(0, style.angle_spread, n)
    if style.orientation == _RANDOM:
        return rng.uniform(0, math.pi, n)
    if style.orientation == _FLOW:
        f = style.flow_frequency
        p1, p2 = rng.uniform(0, 2 * math.pi, 2)
        a = style.flow_amplitude
        return (
            angle
            + a * np.sin(2 * math.pi * f * u + p1)
            + a * np.cos(2 * math.pi * f * v + p2)
            + rng.normal(0, 0.1, n)
        )
    if style.orientation == _RADIAL:
        cx, cy = 0.5 + rng.normal(0, 0.1), 0.5 + rng.normal(0, 0.1)
        return np.arctan2(v - cy, u - cx) + style.radial_offset + rng.normal(0, 0.15, n)
    # _CROSS: two directions, picked stroke by stroke
    second = rng.random(n) < 0.5
    return angle + np.where(second, style.cross_angle, 0.0) + rng.normal(0, 0.08, n)


def _render(style: _Style, rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """Paint one picture in the artist's style: ground, strokes, then texture. Returns an RGB image."""
    unit = math.sqrt(width * height)
    colours = _painting_palette(style, rng)
    m = len(colours)
    field = _layout_field(style, rng, width / height)

    # Per-painting jitter of the hand: the same artist, a different day.
    length = style.length * math.exp(rng.normal(0, 0.12)) * unit
    stroke_width = style.width * math.exp(rng.normal(0, 0.12)) * unit
    coverage = style.coverage * math.exp(rng.normal(0, 0.15))
    angle = style.angle + rng.normal(0, 0.15)

    # Ground: the composition blocked in at low resolution and blurred up, or a toned ground.
    long_cells = 24
    gw = max(2, round(long_cells * width / max(width, height)))
    gh = max(2, round(long_cells * height / max(width, height)))
    gu, gv = np.meshgrid((np.arange(gw) + 0.5) / gw, (np.arange(gh) + 0.5) / gh)
    under = colours[_zones(field(gu, gv), m, rng)] * style.under_tone
    if style.ground is not None:
        jitter = rng.normal(0, (0.03, 0.1, 0.12), (1, 3))
        tone = _hsv_to_rgb(np.clip(np.array([style.ground]) + jitter, 0, 1))[0]
        under = 0.6 * tone + 0.4 * under
    small = Image.fromarray(np.clip(under, 0, 255).astype(np.uint8), "RGB")
    image = small.resize((width, height), Image.Resampling.BILINEAR)

    # Strokes, as numpy arrays first so the drawing loop only feeds PIL.
    if style.kind == _DOT:
        area = math.pi / 4 * length * length
    elif style.kind == _DAB:
        area = math.pi / 4 * length * stroke_width
    else:
        area = length * stroke_width
    calls_per_stroke = 1 + (style.impasto > 0) + (style.outline > 0 and style.kind in (_LINE, _CURVE))
    n = int(min(coverage * width * height / max(area, 1.0), _MAX_STROKES / calls_per_stroke))
    n = max(n, 20)
    margin = 0.05
    u = rng.uniform(-margin, 1 + margin, n)
    v = rng.uniform(-margin, 1 + margin, n)
    zone = _zones(field(u, v), m, rng)
    light = 1.0 + rng.normal(0, style.colour_jitter, (n, 1))
    rgb = colours[zone] * light + rng.normal(0, 6.0, (n, 3))
    rgb = np.clip(rgb, 0, 255).astype(np.int64)
    theta = _orientations(style, rng, u, v, angle)
    lengths = length * np.exp(rng.normal(0, 0.2, n))
    widths = stroke_width * np.exp(rng.normal(0, 0.15, n))
    x, y = u * width, v * height
    dx, dy = np.cos(theta) * lengths / 2, np.sin(theta) * lengths / 2
    nx, ny = -np.sin(theta), np.cos(theta)  # unit normals

    if style.kind == _LINE:
        shapes = np.stack([x - dx, y - dy, x + dx, y + dy], axis=1)
    elif style.kind == _CURVE:
        if style.bend_sign:
            bend = style.bend_sign * style.curvature * np.exp(rng.normal(0, 0.2, n))
        else:
            bend = np.where(rng.random(n) < 0.5, -1.0, 1.0) * style.curvature * np.exp(rng.normal(0, 0.2, n))
        cxp, cyp = x + nx * bend * lengths, y + ny * bend * lengths
        t = np.linspace(0, 1, 6)[None, :]
        px = (1 - t) ** 2 * (x - dx)[:, None] + 2 * (1 - t) * t * cxp[:, None] + t**2 * (x + dx)[:, None]
        py = (1 - t) ** 2 * (y - dy)[:, None] + 2 * (1 - t) * t * cyp[:, None] + t**2 * (y + dy)[:, None]
        shapes = np.stack([px, py], axis=2).reshape(n, -1)
    elif style.kind == _DAB:
        t = np.linspace(0, 2 * math.pi, 9)[None, :-1]
        a, b = lengths[:, None] / 2, widths[:, None] / 2
        ex, ey = a * np.cos(t), b * np.sin(t)
        px = x[:, None] + ex * np.cos(theta)[:, None] - ey * np.sin(theta)[:, None]
        py = y[:, None] + ex * np.sin(theta)[:, None] + ey * np.cos(theta)[:, None]
        shapes = np.stack([px, py], axis=2).reshape(n, -1)
    elif style.kind == _DOT:
        r = lengths / 2
        shapes = np.stack([x - r, y - r, x + r, y + r], axis=1)
    else:  # _BLOCK: rotated rectangles
        hw = widths / 2
        corners = [(1, 1), (1, -1), (-1, -1), (-1, 1)]
        shapes = np.stack(
            [c for sx, sy in corners for c in (x + sx * dx + sy * hw * nx, y + sx * dy + sy * hw * ny)],
            axis=1,
        )

    draw = ImageDraw.Draw(image, "RGBA") if style.alpha < 255 else ImageDraw.Draw(image)
    alpha = style.alpha
    shape_list = np.round(shapes, 1).tolist()
    colour_list = [(*c, alpha) for c in rgb.tolist()]
    width_list = np.maximum(1, np.round(widths)).astype(int).tolist()
    if style.outline > 0:
        dark = np.clip(rgb * style.outline * 0.6, 0, 255).astype(int)
        outline_list = [(*c, 255) for c in dark.tolist()]
        outline_px = max(1, round(0.004 * unit))
    if style.impasto > 0:
        # A thin light ridge on the lit side of every stroke, like thick paint catching the light.
        lx, ly = math.cos(style.light_angle), math.sin(style.light_angle)
        off = 0.3 * widths
        hx, hy = x + lx * off, y + ly * off
        hdx, hdy = dx * 0.7, dy * 0.7
        if style.kind == _DOT:
            hdx, hdy = -ly * lengths * 0.25, lx * lengths * 0.25
        ridge = np.round(np.stack([hx - hdx, hy - hdy, hx + hdx, hy + hdy], axis=1), 1).tolist()
        bright = np.clip(rgb + (255 - rgb) * style.impasto, 0, 255).astype(int)
        ridge_colours = [(*c, 255) for c in bright.tolist()]
        ridge_widths = np.maximum(1, np.round(widths * 0.3)).astype(int).tolist()

    kind = style.kind
    for i in range(n):
        shape, colour = shape_list[i], colour_list[i]
        if kind == _LINE or kind == _CURVE:
            if style.outline > 0:
                draw.line(shape, fill=outline_list[i], width=width_list[i] + 2 * outline_px)
            draw.line(shape, fill=colour, width=width_list[i], joint="curve" if kind == _CURVE else None)
        elif kind == _DOT:
            if style.outline > 0:
                draw.ellipse(shape, fill=colour, outline=outline_list[i], width=outline_px)
            else:
                draw.ellipse(shape, fill=colour)
        elif style.outline > 0:
            draw.polygon(shape, fill=colour, outline=outline_list[i], width=outline_px)
        else:
            draw.polygon(shape, fill=colour)
        if style.impasto > 0:
            draw.line(ridge[i], fill=ridge_colours[i], width=ridge_widths[i])

    return _texture(image, style, rng, unit)


def _texture(image: Image.Image, style: _Style, rng: np.random.Generator, unit: float) -> Image.Image:
    """Add grain (noise at the artist's scale) and canvas weave, both scaled with the image."""
    width, height = image.size
    grain = style.grain * math.exp(rng.normal(0, 0.2))
    cell = max(1.0, style.grain_cell * unit)
    sw, sh = max(2, round(width / cell)), max(2, round(height / cell))
    noise = rng.normal(0, grain, (sh, sw)).astype(np.float32)
    # Resize the float noise up with PIL (C) rather than numpy: it is the costliest step.
    layer = np.asarray(Image.fromarray(noise, "F").resize((width, height), Image.Resampling.BILINEAR))
    if style.weave > 0:
        period = max(2.0, style.weave_period * unit)
        wx = np.cos(2 * math.pi * np.arange(width, dtype=np.float32) / period)
        wy = np.cos(2 * math.pi * np.arange(height, dtype=np.float32) / period)
        layer = layer + style.weave * wy[:, None] * wx[None, :]
    offset = Image.fromarray(np.clip(layer + 128, 0, 255).astype(np.uint8), "L")
    # image + offset - 128, clipped, in C.
    return ImageChops.add(image, Image.merge("RGB", (offset, offset, offset)), 1.0, -128)
