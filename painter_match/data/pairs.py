"""Pairs of paintings: the one container for indexed pairs, and balanced pair sampling.

`Pairs` is what every part of painter-match that scores pairs of paintings holds: each image
listed once (paths relative to ``root``), pairs as two index arrays into that list, and whether
each pair shares an artist. Training validates on them, the checkpoint stores them, export
measures a variant on them, and evaluation scores them. `sample_pairs` draws balanced pairs with
artists drawn uniformly, so that prolific painters do not crowd out the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Pairs:
    """Pairs of images, each image listed once.

    Attributes:
        root: the folder the image paths are relative to.
        paths: relative POSIX paths, one per image.
        first, second: int64 ``[P]`` indices into ``paths``.
        same: bool ``[P]``: the pair shares an artist.
        artists: each image's artist where known (None where not); empty when nobody knows.
        source: where the pairs came from, for reports.
    """

    root: Path
    paths: list[str]
    first: np.ndarray
    second: np.ndarray
    same: np.ndarray
    artists: Sequence[str | None] = field(default=())
    source: str = ""

    def __post_init__(self) -> None:
        if not (len(self.first) == len(self.second) == len(self.same)):
            raise ValueError(
                f"first, second and same must be equally long, got {len(self.first)}, "
                f"{len(self.second)} and {len(self.same)}"
            )

    def __len__(self) -> int:
        return len(self.same)


def all_pairs_of(root: Path, paintings: pd.DataFrame, source: str) -> Pairs:
    """Every unordered pair of the given paintings (``path`` and ``artist`` columns)."""
    paths = list(paintings["path"])
    first, second = np.triu_indices(len(paths), k=1)
    codes = pd.factorize(paintings["artist"])[0]
    return Pairs(root, paths, first, second, codes[first] == codes[second], list(paintings["artist"]), source)


def sample_pair_indices(
    codes: np.ndarray, n_pairs: int, *, same_fraction: float = 0.5, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct unordered pairs of rows, ``same_fraction`` of them with equal artist ``codes``.

    Artists are drawn uniformly (not paintings), so prolific painters do not crowd out the rest.
    When fewer distinct pairs of a kind exist than asked for, all of them are returned.

    Returns:
        ``(first, second)`` int64 row indices, shuffled.
    """
    if n_pairs < 0:
        raise ValueError(f"n_pairs must be >= 0, got {n_pairs}")
    if not 0.0 <= same_fraction <= 1.0:
        raise ValueError(f"same_fraction must be in [0, 1], got {same_fraction}")
    codes = np.asarray(codes)
    members = [np.flatnonzero(codes == a) for a in range(int(codes.max()) + 1 if len(codes) else 0)]
    n_same = int(round(n_pairs * same_fraction))
    same = _sample_same(members, n_same, rng)
    different = _sample_different(members, codes, n_pairs - n_same, rng)
    pairs = np.concatenate([same, different]).reshape(-1, 2)
    pairs = pairs[rng.permutation(len(pairs))]
    return pairs[:, 0], pairs[:, 1]


def sample_pairs(
    paintings: pd.DataFrame, n_pairs: int, *, same_fraction: float = 0.5, seed: int = 0
) -> pd.DataFrame:
    """Draw distinct unordered pairs of paintings, ``same_fraction`` of them by one artist
    (see `sample_pair_indices`).

    Returns:
        Columns ``image1``, ``image2`` (paths), ``artist1``, ``artist2``, ``same`` (bool), shuffled.
    """
    rng = np.random.default_rng(seed)
    paths = paintings["path"].to_numpy()
    codes, artist_names = pd.factorize(paintings["artist"], sort=True)
    first, second = sample_pair_indices(codes, n_pairs, same_fraction=same_fraction, rng=rng)
    return pd.DataFrame(
        {
            "image1": paths[first],
            "image2": paths[second],
            "artist1": np.asarray(artist_names)[codes[first]],
            "artist2": np.asarray(artist_names)[codes[second]],
            "same": codes[first] == codes[second],
        }
    )


def balanced_pairs(
    root: Path, paintings: pd.DataFrame, n_pairs: int, *, seed: int, source: str = ""
) -> Pairs:
    """`sample_pairs` of ``paintings`` as `Pairs` indexing its rows (what training validates on)."""
    sampled = sample_pairs(paintings, n_pairs, seed=seed)
    position = {p: i for i, p in enumerate(paintings["path"])}
    return Pairs(
        root=root,
        paths=list(paintings["path"]),
        first=sampled["image1"].map(position).to_numpy(np.int64),
        second=sampled["image2"].map(position).to_numpy(np.int64),
        same=sampled["same"].to_numpy(bool),
        artists=list(paintings["artist"]),
        source=source or f"{len(sampled):,} balanced pairs of {len(paintings):,} paintings",
    )


# Enumerating every pair is exact and cheap up to this many; beyond it, sample and dedupe.
_ENUMERATE_LIMIT = 2_000_000


def _sample_same(members: list[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    eligible = [m for m in members if len(m) >= 2]
    if n == 0 or not eligible:
        return np.empty((0, 2), dtype=np.int64)
    available = sum(len(m) * (len(m) - 1) // 2 for m in eligible)
    n = min(n, available)
    if available <= 4 * n and available <= _ENUMERATE_LIMIT:
        every = np.concatenate([_all_pairs(m) for m in eligible])
        return every[rng.permutation(len(every))[:n]]
    chosen: dict[tuple[int, int], None] = {}
    sizes = np.array([len(m) for m in eligible])
    while len(chosen) < n:
        batch = 2 * (n - len(chosen)) + 16
        which = rng.integers(0, len(eligible), batch)
        i = rng.integers(0, sizes[which])
        j = rng.integers(0, sizes[which] - 1)
        j = j + (j >= i)  # a second, different painting of the same artist
        for a, ii, jj in zip(which, i, j):
            x, y = int(eligible[a][ii]), int(eligible[a][jj])
            chosen[(min(x, y), max(x, y))] = None
            if len(chosen) == n:
                break
    return np.array(list(chosen), dtype=np.int64)


def _sample_different(
    members: list[np.ndarray], codes: np.ndarray, n: int, rng: np.random.Generator
) -> np.ndarray:
    if n == 0 or len(members) < 2:
        return np.empty((0, 2), dtype=np.int64)
    total = len(codes)
    same_count = sum(len(m) * (len(m) - 1) // 2 for m in members)
    available = total * (total - 1) // 2 - same_count
    n = min(n, available)
    if available <= 4 * n and available <= _ENUMERATE_LIMIT:
        every = _all_pairs(np.arange(total))
        every = every[codes[every[:, 0]] != codes[every[:, 1]]]
        return every[rng.permutation(len(every))[:n]]
    chosen: dict[tuple[int, int], None] = {}
    while len(chosen) < n:
        batch = 2 * (n - len(chosen)) + 16
        a = rng.integers(0, len(members), batch)
        b = rng.integers(0, len(members) - 1, batch)
        b = b + (b >= a)  # a second, different artist
        for artist_a, artist_b in zip(a, b):
            x = int(members[artist_a][rng.integers(len(members[artist_a]))])
            y = int(members[artist_b][rng.integers(len(members[artist_b]))])
            chosen[(min(x, y), max(x, y))] = None
            if len(chosen) == n:
                break
    return np.array(list(chosen), dtype=np.int64)


def _all_pairs(indices: np.ndarray) -> np.ndarray:
    i, j = np.triu_indices(len(indices), k=1)
    return np.stack([indices[i], indices[j]], axis=1)
