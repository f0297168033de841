"""Deterministic synthetic painters, written in exactly the layout of Kaggle's "Painter by Numbers".

The real data (about 100k paintings by 2,300 artists) cannot be downloaded here, so this module
is the project's built-in data for tests and the demo. It writes::

    OUT_DIR/
      train/NNNN.jpg ...        training images (numeric names, shuffled; PNGs end in .png)
      test/NNNN.jpg ...         test images: artists seen in training and artists never seen
      train_info.csv            filename,artist,title,style,genre,date  (training images only)
      all_data_info.csv         artist,date,genre,pixelsx,pixelsy,size_bytes,source,style,title,
                                artist_group,in_train,new_filename  (every image)
      submission_info.csv       index,image1,image2  (test pairs)
      solution.csv              index,sameArtist  (1 or 0)

Every artist is a *style*: a palette drawn from one of a few shared "schools", a kind of
brushwork (stroke shape, length, width, orientation, curvature, density, opacity), a texture
(grain, canvas weave, impasto highlights, outlines), a ground and a habitual composition. Each
painting samples from its artist's style with jitter, so two paintings by one hand differ but
share it. Palettes are shared across artists and every painting shifts its hue and brightness,
so colour alone is a weak cue (the colour-histogram baseline scores ROC AUC of roughly 0.6-0.7);
brushwork is what separates artists. Stroke geometry is expressed as a fraction of the image
size, so a style survives the downscaling to the 64-224 px a model sees.

Output is byte-identical for a given config whatever the number of worker processes: every
painting draws from its own random stream, derived from ``(seed, artist, painting)`` with
``numpy.random.SeedSequence``.
"""

from __future__ import annotations

import colorsys
import csv
import io
import math
import os
import secrets
import shutil
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, fields
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageDraw

from painter_match.errors import DataError

__all__ = [
    "ALL_DATA_INFO_COLUMNS",
    "SOLUTION_COLUMNS",
    "SUBMISSION_INFO_COLUMNS",
    "TRAIN_INFO_COLUMNS",
    "SynthConfig",
    "SynthConfigError",
    "SynthSummary",
    "generate",
]

TRAIN_INFO_COLUMNS = ("filename", "artist", "title", "style", "genre", "date")
ALL_DATA_INFO_COLUMNS = (
    "artist",
    "date",
    "genre",
    "pixelsx",
    "pixelsy",
    "size_bytes",
    "source",
    "style",
    "title",
    "artist_group",
    "in_train",
    "new_filename",
)
SUBMISSION_INFO_COLUMNS = ("index", "image1", "image2")
SOLUTION_COLUMNS = ("index", "sameArtist")

# Streams of the per-config SeedSequence. Each part of the output draws from its own stream so
# that, e.g., adding corrupt files does not change the paintings.
_STREAM_COUNTS, _STREAM_STYLE, _STREAM_PAINTING, _STREAM_PLAN, _STREAM_META, _STREAM_CORRUPT = range(6)

# Shares of the special image kinds; the real data has all of them.
_PNG_SHARE, _GREY_SHARE, _CMYK_SHARE = 0.10, 0.05, 0.02
# Cap on drawing calls per painting, which bounds the rendering time whatever the style.
_MAX_STROKES = 3500


class SynthConfigError(DataError, ValueError):
    """An invalid synthetic-data option. A ValueError for callers, a DataError for the CLI."""


@dataclass(frozen=True)
class SynthConfig:
    """What to generate. Invalid values raise `SynthConfigError` when the config is built.

    Attributes:
        seed: the same seed (and options) gives byte-identical output.
        artists: artists with paintings in train/ (some of their paintings also go to test/).
        test_artists: artists that appear only in test/, never seen in training.
        paintings: mean paintings per artist; each artist gets at least 2, some many more.
        test_fraction: share of each training artist's paintings placed in test/.
        group_size: test images are shuffled into groups of this size and every pair within a
            group is listed, as in the real competition.
        balanced_pairs: if set, list this many pairs sampled half same-artist, half different,
            instead of the groups.
        corrupt: extra corrupt files (truncated JPEG, 0-byte file, text named .jpg), listed in
            the CSVs like real images.
        min_size: smallest long side, pixels.
        max_size: largest long side, pixels.
        workers: processes for rendering; 0 means one per available core. The output does not
            depend on it.
    """

    seed: int = 0
    artists: int = 24
    test_artists: int = 8
    paintings: int = 14
    test_fraction: float = 0.2
    group_size: int = 40
    balanced_pairs: int | None = None
    corrupt: int = 0
    min_size: int = 300
    max_size: int = 2000
    workers: int = 0

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            flag = "--" + item.name.replace("_", "-")
            if item.name == "test_fraction":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    raise SynthConfigError(f"{flag} must be a number, got {value!r}")
            elif item.name == "balanced_pairs" and value is None:
                continue
            elif isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise SynthConfigError(f"{flag} must be an integer, got {value!r}")
        _at_least("--seed", self.seed, 0)
        _at_least("--artists", self.artists, 2)
        _at_least("--test-artists", self.test_artists, 0)
        _at_least("--paintings", self.paintings, 2)
        if not 0.0 <= self.test_fraction < 1.0:
            raise SynthConfigError(f"--test-fraction must be in [0, 1), got {self.test_fraction}")
        if self.test_fraction == 0 and self.test_artists == 0:
            raise SynthConfigError("no test images: set --test-fraction > 0 or --test-artists > 0")
        _at_least("--group-size", self.group_size, 2)
        if self.balanced_pairs is not None:
            _at_least("--balanced-pairs", self.balanced_pairs, 2)
        _at_least("--corrupt", self.corrupt, 0)
        _at_least("--min-size", self.min_size, 32)
        if self.max_size < self.min_size:
            raise SynthConfigError(f"--max-size ({self.max_size}) must be >= --min-size ({self.min_size})")
        if self.max_size > 20_000:
            raise SynthConfigError(f"--max-size must be <= 20000, got {self.max_size}")
        _at_least("--workers", self.workers, 0)

    def total_artists(self) -> int:
        """Artists in the data set: training artists plus test-only artists."""
        return self.artists + self.test_artists

    def paintings_per_artist(self) -> list[int]:
        """How many paintings each artist gets (training artists first), without rendering anything."""
        rng = _rng(self.seed, _STREAM_COUNTS)
        n = self.total_artists()
        # Log-normal around the mean: most artists near it, a few prolific ones, as in the real data.
        # Capped at three times the mean so that one artist's pairs do not swamp the test pairs.
        sigma = 0.45
        raw = self.paintings * rng.lognormal(-sigma * sigma / 2, sigma, size=n)
        return [max(2, min(3 * self.paintings, round(x))) for x in raw]

    def total_paintings(self) -> int:
        """The number of paintings `generate` renders (corrupt files not included): the progress total."""
        return sum(self.paintings_per_artist())


def _at_least(flag: str, value: int, minimum: int) -> None:
    if value < minimum:
        raise SynthConfigError(f"{flag} must be >= {minimum}, got {value}")


@dataclass(frozen=True)
class SynthSummary:
    """What `generate` wrote; the CLI prints it, or its `to_dict` as JSON.

    Attributes:
        out_dir: the folder written.
        artists: all artists (training artists plus test-only artists).
        train_artists: artists with paintings in train/.
        test_only_artists: artists found only in test/.
        paintings: rendered paintings (corrupt files not included).
        train_images: files in train/ (corrupt ones included).
        test_images: files in test/ (corrupt ones included).
        corrupt: corrupt files written.
        pairs: rows of submission_info.csv.
        same_artist_pairs: pairs whose two images share an artist.
        same_artist_share: ``same_artist_pairs / pairs``.
        pair_mode: ``"groups of N"`` or ``"balanced"``.
        seconds: wall time of the run.
    """

    out_dir: str
    artists: int
    train_artists: int
    test_only_artists: int
    paintings: int
    train_images: int
    test_images: int
    corrupt: int
    pairs: int
    same_artist_pairs: int
    same_artist_share: float
    pair_mode: str
    seconds: float

    def to_dict(self) -> dict[str, object]:
        """The summary as JSON-ready values."""
        data = asdict(self)
        data["same_artist_share"] = round(self.same_artist_share, 6)
        data["seconds"] = round(self.seconds, 3)
        return data

    def describe(self) -> str:
        """A few human-readable lines."""
        artists = f"{self.artists} ({self.train_artists} in train, {self.test_only_artists} only in test)"
        pairs = f"{self.pairs:,} ({self.pair_mode}), {self.same_artist_share:.2%} same-artist"
        return "\n".join(
            [
                f"wrote {self.out_dir} in {self.seconds:.1f} s",
                f"  artists     {artists}",
                f"  paintings   {self.paintings} rendered + {self.corrupt} corrupt files",
                f"  images      {self.train_images} in train/, {self.test_images} in test/",
                f"  pairs       {pairs} ({self.same_artist_pairs:,})",
            ]
        )


# --------------------------------------------------------------------------------------------
# The style model
# --------------------------------------------------------------------------------------------

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


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


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


# --------------------------------------------------------------------------------------------
# Realistic catalogue text
# --------------------------------------------------------------------------------------------

# fmt: off
_FIRST = (
    "Zoë", "José", "Søren", "Łukasz", "Anaïs", "Mikhail", "Hélène", "Jürgen", "Ingrid", "Tomás", "Ōta",
    "Camille", "Paul", "Berthe", "Ilya", "Frida", "Giovanni", "Agnès", "Henri", "Mary", "Wassily",
    "Élisabeth", "Kazimir", "Tamara", "Edvard", "Sofonisba", "Jean-Baptiste", "Nikolaï", "Gustave",
    "Marianne", "Ángel", "Dörte",
)
_LAST = (
    "Ångström", "Núñez", "Kierkegård", "Wróbel", "Dubois", "Vrubelʹ", "Lefèvre", "Müller", "Lindqvist",
    "Ó Briain", "Hiroshige", "Pissarro-Blanc", "Morisot", "Repin", "Kahlo", "Bellini", "Varda", "Rousseau",
    "Cassatt", "Kandinsky", "Vigée", "Malevich", "de Lempicka", "Munch", "Anguissola", "Corot", "Rœrich",
    "Courbet", "von Werefkin", "Sorolla", "Çelik", "van der Weyden",
)
_SINGLE = (
    "Giotto", "Masaccio", "Sōtatsu", "El Greco", "Canaletto",
)
_SUBJECTS = (
    "Haystacks", "Woman with a Parasol", "Still Life with Pomegranates", "Nocturne in Blue and Gold",
    "The Bathers", "Café Terrace at Night", "Portrait of Mme. Höffner", "Self-Portrait", "Harbour at Dawn",
    "The Poplars", "Composition", "Girl Reading", "Wheatfield with Crows", "Interior, Evening",
    "The Red Room", "Mont Sainte-Victoire", "Boats on the Shore", "Garden in Bloom", "Études de nuages",
    "Winter Landscape", "Flowers in a Vase", "The Card Players", "Street in the Rain", "Saint Jérôme",
    "The Orchard",
)
_PLACES = (
    "Arles", "Montmartre", "Gdańsk", "Sevilla", "Kraków", "São Paulo", "Zürich", "Trondheim",
    "Île de la Cité", "Delft",
)
_STYLES = (
    "Impressionism", "Post-Impressionism", "Expressionism", "Realism", "Romanticism", "Art Nouveau (Modern)",
    "Naïve Art (Primitivism)", "Abstract Expressionism", "Cubism", "Pointillism", "Color Field Painting",
    "Symbolism", "Baroque", "Fauvism", "Northern Renaissance",
)
_GENRES = (
    ("landscape", "cityscape", "marina"),  # horizon
    ("portrait", "still life", "religious painting"),  # blob
    ("genre painting", "landscape", "mythological painting"),  # diagonal
    ("abstract", "design", "cityscape"),  # grid
    ("abstract", "interior", "genre painting"),  # bands
    ("abstract", "flower painting", "sketch and study"),  # field
)
# fmt: on


@dataclass(frozen=True)
class _Artist:
    index: int
    name: str
    style: _Style
    train: bool  # a training artist (else test-only)
    main_style: str
    other_style: str
    first_year: int
    span: int


def _artist_names(rng: np.random.Generator, n: int) -> list[str]:
    names: list[str] = []
    taken: set[str] = set()
    while len(names) < n:
        if rng.random() < 0.06:
            name = _SINGLE[int(rng.integers(len(_SINGLE)))]
        else:
            name = f"{_FIRST[int(rng.integers(len(_FIRST)))]} {_LAST[int(rng.integers(len(_LAST)))]}"
        if name in taken:
            # Many artists (a big config) exhaust the combinations; disambiguate as catalogues do.
            k = 2
            while f"{name} ({k})" in taken:
                k += 1
            name = f"{name} ({k})"
        taken.add(name)
        names.append(name)
    return names


def _title(rng: np.random.Generator) -> str:
    subject = _SUBJECTS[int(rng.integers(len(_SUBJECTS)))]
    place = _PLACES[int(rng.integers(len(_PLACES)))]
    form = int(rng.integers(8))
    if form == 0:
        return f"{subject}, {place}"
    if form == 1:
        return f'Study for "{subject}"'
    if form == 2:
        return f"{subject} (No. {int(rng.integers(1, 12))})"
    if form == 3:
        return "Untitled"
    if form == 4:
        return f"'{subject}', second version"
    return subject


def _date(rng: np.random.Generator, year: int) -> str:
    form = rng.random()
    if form < 0.45:
        return str(year)
    if form < 0.65:
        return f"{year}.0"
    if form < 0.80:
        return f"c.{year}"
    if form < 0.85:
        return f"{year}-{year + int(rng.integers(1, 4))}"
    return ""


# --------------------------------------------------------------------------------------------
# The plan: every file, decided up front in the parent process
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    """One listed file: a painting to render or a corrupt file."""

    number: int
    artist: int
    serial: int  # painting index within the artist (for its random stream); -1-k for corrupt file k
    in_train: bool
    width: int
    height: int
    fmt: str  # "JPEG" or "PNG"
    mode: str  # "RGB", "L" or "CMYK"
    quality: int
    corrupt: str | None  # None, "truncated", "empty" or "text"
    title: str
    date: str
    style_name: str
    genre: str
    source: str

    @property
    def filename(self) -> str:
        return f"{self.number}.{'png' if self.fmt == 'PNG' else 'jpg'}"

    @property
    def folder(self) -> str:
        return "train" if self.in_train else "test"


@dataclass(frozen=True)
class _Job:
    """What a worker needs to render and write one painting."""

    seed: int
    artist: int
    serial: int
    style: _Style
    width: int
    height: int
    fmt: str
    mode: str
    quality: int
    path: str


def _size(rng: np.random.Generator, config: SynthConfig, portrait_share: float) -> tuple[int, int]:
    long_side = round(math.exp(rng.uniform(math.log(config.min_size), math.log(config.max_size))))
    long_side = min(max(long_side, config.min_size), config.max_size)
    ratio = min(2.0, math.exp(abs(rng.normal(0, 0.3))))  # 1:1 .. 2:1, most near 4:3
    short_side = max(1, round(long_side / ratio))
    return (short_side, long_side) if rng.random() < portrait_share else (long_side, short_side)


def _plan(config: SynthConfig) -> tuple[list[_Artist], list[_Item]]:
    counts = config.paintings_per_artist()
    n_artists = len(counts)
    plan_rng = _rng(config.seed, _STREAM_PLAN)
    meta_rng = _rng(config.seed, _STREAM_META)
    names = _artist_names(meta_rng, n_artists)
    artists = []
    for a in range(n_artists):
        style = _sample_style(_rng(config.seed, _STREAM_STYLE, a))
        first_year = int(meta_rng.integers(1480, 1980))
        main, other = meta_rng.choice(len(_STYLES), size=2, replace=False)
        artists.append(
            _Artist(
                index=a,
                name=names[a],
                style=style,
                train=a < config.artists,
                main_style=_STYLES[int(main)],
                other_style=_STYLES[int(other)],
                first_year=first_year,
                span=int(meta_rng.integers(8, 50)),
            )
        )

    # Which paintings of each training artist go to test/: stochastic rounding of the fraction,
    # never all of them.
    test_counts = []
    for a in range(n_artists):
        if not artists[a].train:
            test_counts.append(counts[a])
            continue
        expected = counts[a] * config.test_fraction
        k = math.floor(expected + plan_rng.random())
        test_counts.append(min(k, counts[a] - 1))
    if config.test_fraction > 0 and not any(test_counts[a] for a in range(config.artists)):
        # The test set must hold artists seen in training; give the most prolific one a test painting.
        top = max(range(config.artists), key=lambda a: counts[a])
        test_counts[top] = 1

    total = sum(counts) + config.corrupt
    numbers = plan_rng.choice(max(100_000, 10 * total), size=total, replace=False) + 1

    # Special image kinds by quota rather than by chance, so even a tiny set holds each of them.
    n_paint = sum(counts)
    order = plan_rng.permutation(n_paint)
    n_cmyk = max(1, round(_CMYK_SHARE * n_paint))
    n_grey = max(1, round(_GREY_SHARE * n_paint))
    n_png = max(1, round(_PNG_SHARE * n_paint))
    kinds = {}
    for rank, flat in enumerate(order.tolist()):
        if rank < n_cmyk:
            kinds[flat] = ("JPEG", "CMYK")
        elif rank < n_cmyk + n_grey:
            kinds[flat] = ("JPEG", "L")
        elif rank < n_cmyk + n_grey + n_png:
            kinds[flat] = ("PNG", "RGB")
        else:
            kinds[flat] = ("JPEG", "RGB")

    items: list[_Item] = []
    flat = 0
    for a, artist in enumerate(artists):
        in_test = set(plan_rng.choice(counts[a], size=test_counts[a], replace=False).tolist())
        for p in range(counts[a]):
            width, height = _size(plan_rng, config, artist.style.portrait_share)
            fmt, mode = kinds[flat]
            items.append(
                _item(
                    meta_rng,
                    artist,
                    number=int(numbers[flat]),
                    serial=p,
                    in_train=p not in in_test,
                    size=(width, height),
                    fmt=fmt,
                    mode=mode,
                    quality=int(plan_rng.integers(75, 96)),
                    corrupt=None,
                )
            )
            flat += 1

    corrupt_rng = _rng(config.seed, _STREAM_CORRUPT)
    for k in range(config.corrupt):
        a = int(corrupt_rng.integers(n_artists))
        in_train = artists[a].train and corrupt_rng.random() >= max(config.test_fraction, 0.2)
        width, height = _size(corrupt_rng, config, artists[a].style.portrait_share)
        items.append(
            _item(
                meta_rng,
                artists[a],
                number=int(numbers[n_paint + k]),
                serial=-1 - k,
                in_train=in_train,
                size=(width, height),
                fmt="JPEG",
                mode="RGB",
                quality=85,
                corrupt=("truncated", "empty", "text")[k % 3],
            )
        )
    return artists, items


def _item(
    rng: np.random.Generator,
    artist: _Artist,
    *,
    number: int,
    serial: int,
    in_train: bool,
    size: tuple[int, int],
    fmt: str,
    mode: str,
    quality: int,
    corrupt: str | None,
) -> _Item:
    year = artist.first_year + int(rng.integers(0, artist.span + 1))
    genres = _GENRES[artist.style.composition]
    genre = "" if rng.random() < 0.05 else genres[int(rng.integers(len(genres)))]
    return _Item(
        number=number,
        artist=artist.index,
        serial=serial,
        in_train=in_train,
        width=size[0],
        height=size[1],
        fmt=fmt,
        mode=mode,
        quality=quality,
        corrupt=corrupt,
        title=_title(rng),
        date=_date(rng, year),
        style_name=artist.main_style if rng.random() < 0.85 else artist.other_style,
        genre=genre,
        source="wikiart" if rng.random() < 0.9 else "wga",
    )


# --------------------------------------------------------------------------------------------
# Rendering and writing
# --------------------------------------------------------------------------------------------


def _encode(image: Image.Image, fmt: str, mode: str, quality: int) -> bytes:
    if mode != "RGB":
        image = image.convert(mode)
    buffer = io.BytesIO()
    if fmt == "PNG":
        image.save(buffer, "PNG", compress_level=1)  # zlib dominates the time; size matters less
    else:
        image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _render_job(job: _Job) -> int:
    """Render, encode and write one painting; returns its size in bytes. Runs in a worker process."""
    rng = _rng(job.seed, _STREAM_PAINTING, job.artist, job.serial)
    image = _render(job.style, rng, job.width, job.height)
    data = _encode(image, job.fmt, job.mode, job.quality)
    Path(job.path).write_bytes(data)
    return len(data)


def _corrupt_bytes(item: _Item, style: _Style, seed: int) -> bytes:
    if item.corrupt == "empty":
        return b""
    if item.corrupt == "text":
        return (
            b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>\n"
            b"<body><h1>Not Found</h1><p>The requested image was not found.</p></body></html>\n"
        )
    # A real JPEG cut off after its headers and a little of its scan data, as an interrupted download.
    rng = _rng(seed, _STREAM_CORRUPT, 1, -item.serial)
    scale = 256 / max(item.width, item.height)
    width, height = max(32, round(item.width * scale)), max(32, round(item.height * scale))
    data = _encode(_render(style, rng, width, height), "JPEG", "RGB", 90)
    # Keep every header up to the start of scan (SOS) and a third of the scan data after it.
    scan = data.find(b"\xff\xda")
    return data[: scan + max(16, (len(data) - scan) // 3)]


def _pairs(
    test_items: Sequence[_Item], config: SynthConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs into test_items: (first, second), each [P]."""
    n = len(test_items)
    artist = np.array([item.artist for item in test_items])
    if config.balanced_pairs is None:
        # As in the competition: shuffle, cut into near-equal groups of at most group_size,
        # list every pair within a group.
        order = rng.permutation(n)
        groups = np.array_split(order, max(1, math.ceil(n / config.group_size)))
        firsts, seconds = [], []
        for group in groups:
            i, j = np.triu_indices(len(group), 1)
            firsts.append(group[i])
            seconds.append(group[j])
        return np.concatenate(firsts), np.concatenate(seconds)

    n_same = config.balanced_pairs // 2
    n_diff = config.balanced_pairs - n_same
    same_i, same_j = [], []
    for a in np.unique(artist):
        members = np.flatnonzero(artist == a)
        i, j = np.triu_indices(len(members), 1)
        same_i.append(members[i])
        same_j.append(members[j])
    all_same_i, all_same_j = np.concatenate(same_i), np.concatenate(same_j)
    n_diff_available = n * (n - 1) // 2 - all_same_i.size
    if n_same > all_same_i.size or n_diff > n_diff_available:
        raise SynthConfigError(
            f"--balanced-pairs {config.balanced_pairs} needs {n_same} same-artist and {n_diff} "
            f"different-artist test pairs, but the test set has only {all_same_i.size} "
            f"and {n_diff_available}; "
            "ask for fewer pairs or more test paintings"
        )
    pick = rng.choice(all_same_i.size, size=n_same, replace=False)
    first, second = all_same_i[pick].tolist(), all_same_j[pick].tolist()
    if n_diff_available <= 4 * n_diff:
        # Few to choose from: enumerate them rather than rejection-sample.
        i, j = np.triu_indices(n, 1)
        different = artist[i] != artist[j]
        pick = rng.choice(int(different.sum()), size=n_diff, replace=False)
        first += i[different][pick].tolist()
        second += j[different][pick].tolist()
        order = rng.permutation(len(first))
        return np.array(first)[order], np.array(second)[order]
    seen: set[tuple[int, int]] = set()
    while len(seen) < n_diff:
        a, b = (int(k) for k in rng.integers(n, size=2))
        if artist[a] == artist[b]:
            continue
        key = (min(a, b), max(a, b))
        if key in seen:
            continue
        seen.add(key)
        first.append(a)
        second.append(b)
    order = rng.permutation(len(first))
    return np.array(first)[order], np.array(second)[order]


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _worker_count(config: SynthConfig) -> int:
    if config.workers:
        return config.workers
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _render_all(jobs: list[_Job], workers: int, advance: Callable[[int], None] | None) -> list[int]:
    """Size in bytes of each job's file, rendering in a process pool when it pays."""
    sizes = [0] * len(jobs)
    if workers <= 1 or len(jobs) < 4:
        for k, job in enumerate(jobs):
            sizes[k] = _render_job(job)
            if advance:
                advance(1)
        return sizes
    # Largest first, so no worker is left with a big painting at the end.
    order = sorted(range(len(jobs)), key=lambda k: -jobs[k].width * jobs[k].height)
    # "fork" where there is one: unlike "spawn" it does not re-import the caller's __main__, which
    # fails for `python -` and re-runs unguarded scripts. The children only compute and write a
    # file, so the threads a caller may run (a progress bar) are harmless to them.
    method = "fork" if "fork" in get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=get_context(method)) as pool:
        with warnings.catch_warnings():
            # Python >= 3.12 warns about fork() beside threads; see above for why it is safe here.
            warnings.filterwarnings(
                "ignore", message=r".*fork\(\) may lead to deadlocks", category=DeprecationWarning
            )
            pending: dict[Future[int], int] = {pool.submit(_render_job, jobs[k]): k for k in order}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    sizes[pending.pop(future)] = future.result()
                    if advance:
                        advance(1)
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    return sizes


def _is_non_empty_dir(path: Path) -> bool:
    return path.is_dir() and any(path.iterdir())


def generate(
    out_dir: str | Path,
    config: SynthConfig = SynthConfig(),  # frozen, so a shared default is safe
    *,
    advance: Callable[[int], None] | None = None,
    force: bool = False,
) -> SynthSummary:
    """Write a synthetic data set in the Kaggle layout to out_dir.

    Everything is rendered into a temporary sibling folder which is renamed to out_dir at the
    end, so an interrupted run leaves no half-written out_dir.

    Args:
        out_dir: the folder to create.
        config: what to generate.
        advance: called with 1 after each painting is written (``config.total_paintings()`` in all).
        force: replace out_dir if it exists and is not empty.

    Returns:
        Counts of what was written, and the time taken.

    Raises:
        DataError: out_dir exists and is not empty (without force) or is a file, or the config
            cannot be satisfied (e.g. more balanced pairs than the test set allows).
    """
    started = time.perf_counter()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DataError(f"{out} exists and is not a folder")
    if _is_non_empty_dir(out) and not force:
        raise DataError(f"{out} exists and is not empty; use --force to replace it")

    artists, items = _plan(config)
    test_items = [item for item in items if not item.in_train]
    if len(test_items) < 2:
        raise SynthConfigError(
            "the test set would hold fewer than 2 images: "
            "raise --test-artists, --test-fraction or --paintings"
        )
    first, second = _pairs(test_items, config, _rng(config.seed, _STREAM_PLAN, 1))

    out.parent.mkdir(parents=True, exist_ok=True)
    # A hidden sibling on the same file system, so that the final rename is atomic. Made with
    # mkdir (not mkdtemp, which would leave the data set readable by its owner only).
    staging = _sibling(out, "tmp")
    staging.mkdir()
    try:
        for folder in ("train", "test"):
            (staging / folder).mkdir()
        paintings = [item for item in items if item.corrupt is None]
        jobs = [
            _Job(
                seed=config.seed,
                artist=item.artist,
                serial=item.serial,
                style=artists[item.artist].style,
                width=item.width,
                height=item.height,
                fmt=item.fmt,
                mode=item.mode,
                quality=item.quality,
                path=str(staging / item.folder / item.filename),
            )
            for item in paintings
        ]
        sizes = dict(
            zip((item.number for item in paintings), _render_all(jobs, _worker_count(config), advance))
        )
        for item in items:
            if item.corrupt is not None:
                data = _corrupt_bytes(item, artists[item.artist].style, config.seed)
                (staging / item.folder / item.filename).write_bytes(data)
                sizes[item.number] = len(data)

        _write_tables(staging, artists, items, sizes, test_items, first, second)
        _replace(staging, out, force)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise

    same = np.array([test_items[i].artist == test_items[j].artist for i, j in zip(first, second)], dtype=bool)
    train_images = sum(item.in_train for item in items)
    return SynthSummary(
        out_dir=str(out),
        artists=len(artists),
        train_artists=config.artists,
        test_only_artists=config.test_artists,
        paintings=len(items) - config.corrupt,
        train_images=train_images,
        test_images=len(items) - train_images,
        corrupt=config.corrupt,
        pairs=int(same.size),
        same_artist_pairs=int(same.sum()),
        same_artist_share=float(same.mean()) if same.size else 0.0,
        pair_mode="balanced" if config.balanced_pairs is not None else f"groups of {config.group_size}",
        seconds=time.perf_counter() - started,
    )


def _write_tables(
    root: Path,
    artists: Sequence[_Artist],
    items: Sequence[_Item],
    sizes: dict[int, int],
    test_items: Sequence[_Item],
    first: np.ndarray,
    second: np.ndarray,
) -> None:
    in_train = {a.index: False for a in artists}
    in_test = {a.index: False for a in artists}
    for item in items:
        (in_train if item.in_train else in_test)[item.artist] = True
    group = {
        a: "train_and_test" if in_train[a] and in_test[a] else ("train_only" if in_train[a] else "test_only")
        for a in in_train
    }
    # Rows in file-number order, as a catalogue would be, so the order reveals nothing.
    ordered = sorted(items, key=lambda item: item.number)
    _write_csv(
        root / "train_info.csv",
        TRAIN_INFO_COLUMNS,
        (
            (item.filename, artists[item.artist].name, item.title, item.style_name, item.genre, item.date)
            for item in ordered
            if item.in_train
        ),
    )
    _write_csv(
        root / "all_data_info.csv",
        ALL_DATA_INFO_COLUMNS,
        (
            (
                artists[item.artist].name,
                item.date,
                item.genre,
                item.width,
                item.height,
                sizes[item.number],
                item.source,
                item.style_name,
                item.title,
                group[item.artist],
                "True" if item.in_train else "False",
                item.filename,
            )
            for item in ordered
        ),
    )
    names = [item.filename for item in test_items]
    _write_csv(
        root / "submission_info.csv",
        SUBMISSION_INFO_COLUMNS,
        ((k, names[i], names[j]) for k, (i, j) in enumerate(zip(first.tolist(), second.tolist()))),
    )
    _write_csv(
        root / "solution.csv",
        SOLUTION_COLUMNS,
        (
            (k, int(test_items[i].artist == test_items[j].artist))
            for k, (i, j) in enumerate(zip(first.tolist(), second.tolist()))
        ),
    )


def _sibling(out: Path, tag: str) -> Path:
    return out.parent / f".{out.name}.{tag}-{os.getpid()}-{secrets.token_hex(4)}"


def _replace(staging: Path, out: Path, force: bool) -> None:
    """Move the finished staging folder to out, replacing an existing out only when allowed."""
    if out.is_dir():
        if any(out.iterdir()):
            if not force:  # appeared while rendering
                raise DataError(f"{out} exists and is not empty; use --force to replace it")
            # Move the old folder aside first so that out is never missing a complete data set
            # for longer than two renames.
            old = _sibling(out, "old")
            out.rename(old)
            staging.rename(out)
            shutil.rmtree(old, ignore_errors=True)
            return
        out.rmdir()
    staging.rename(out)
