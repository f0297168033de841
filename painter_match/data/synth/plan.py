"""The plan: every file (painting or corrupt file), its size, format, folder and catalogue text,
decided up front in the parent process so that the output does not depend on the workers."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from painter_match.data.synth.config import (
    _CMYK_SHARE,
    _GREY_SHARE,
    _PNG_SHARE,
    _STREAM_CORRUPT,
    _STREAM_META,
    _STREAM_PLAN,
    _STREAM_STYLE,
    SynthConfig,
    _rng,
)
from painter_match.data.synth.names import _GENRES, _STYLES, _Artist, _artist_names, _date, _title
from painter_match.data.synth.style import _sample_style, _Style


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
