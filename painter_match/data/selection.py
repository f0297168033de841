"""Filtering and splitting the catalogue: which paintings a run trains, validates and tests on.

Artist lists and artist-disjoint folds, a minimum of paintings per artist, a cap per artist, and
the train / validation / test split by whole artists; `run_paintings` is the one recipe the
trainer uses to pick a run's paintings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from painter_match.data.catalogue import (
    Catalogue,
    DataDirs,
    artist_key,
    files_on_disk,
    read_artist_list,
    read_catalogue,
)
from painter_match.errors import DataError

# Fixed so that a fold names the same artists in every run, on every machine.
FOLD_SEED = 12345


def parse_k_of_n(text: str, what: str = "fold", least: int = 2) -> tuple[int, int]:
    """``"2/4"`` -> (2, 4): part 2 of 4, counted from 0 (a fold, or a shard of an ``embed``).

    Raises:
        ValueError: naming ``what``, the value and the expected form (N at least ``least``).
    """
    number, sep, total = text.partition("/")
    if sep and number.strip().isdigit() and total.strip().isdigit():
        k, n = int(number), int(total)
        if n >= least and 0 <= k < n:
            return k, n
    raise ValueError(f"{what} {text!r}: expected K/N with N >= {least} and K from 0 to N-1, e.g. 0/4")


def parse_fold(text: str) -> tuple[int, int]:
    """``"2/4"`` -> (2, 4): fold 2 of 4, counted from 0.

    Raises:
        ValueError: naming the value and the expected form.
    """
    return parse_k_of_n(text, "fold", 2)


def fold_artists(paintings: pd.DataFrame, fold: str) -> set[str]:
    """The artists (`artist_key` values) of one of N artist-disjoint folds of ``paintings``.

    Every artist falls in exactly one fold: the artists, in order of their keys, are shuffled
    with a fixed seed and dealt out in turn, so folds differ in size by at most one artist and
    depend only on which artists there are.

    Raises:
        ValueError: a malformed fold (see `parse_fold`).
    """
    k, n = parse_fold(fold)
    keys = sorted({artist_key(a) for a in paintings["artist"]})
    order = np.random.default_rng(FOLD_SEED).permutation(len(keys))
    return {keys[i] for position, i in enumerate(order) if position % n == k}


def select_artists(paintings: pd.DataFrame, artists: set[str], *, keep: bool) -> pd.DataFrame:
    """The paintings of the given artists (``keep``) or of every other artist (``keep=False``).

    Args:
        artists: `artist_key` values, as `read_artist_list` gives them.
    """
    listed = paintings["artist"].map(artist_key).isin(artists)
    return paintings[listed if keep else ~listed].reset_index(drop=True)


def filter_artists(paintings: pd.DataFrame, min_paintings: int = 2) -> pd.DataFrame:
    """Keep the artists with at least ``min_paintings`` paintings (a same-artist pair needs two)."""
    if min_paintings < 1:
        raise ValueError(f"min_paintings must be >= 1, got {min_paintings}")
    counts = paintings.groupby("artist")["path"].transform("size")
    return paintings[counts >= min_paintings].reset_index(drop=True)


def cap_per_artist(paintings: pd.DataFrame, max_per_artist: int | None, *, seed: int = 0) -> pd.DataFrame:
    """Keep at most ``max_per_artist`` paintings of each artist, chosen at random but reproducibly.

    A cap stops one prolific painter from dominating the pairs; table order is kept.
    """
    if max_per_artist is None:
        return paintings
    if max_per_artist < 1:
        raise ValueError(f"max_per_artist must be >= 1, got {max_per_artist}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(paintings))
    shuffled = paintings.iloc[order]
    kept = shuffled[shuffled.groupby("artist").cumcount() < max_per_artist]
    return paintings.loc[sorted(kept.index)].reset_index(drop=True)


@dataclass(frozen=True)
class Split:
    """Paintings divided so that no artist appears in two parts."""

    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame

    def artists(self, part: str) -> set[str]:
        return set(getattr(self, part)["artist"])


def split_by_artist(
    paintings: pd.DataFrame, *, val_fraction: float = 0.15, test_fraction: float = 0.0, seed: int = 0
) -> Split:
    """Divide the paintings into train / validation / test with disjoint artists.

    Artists are shuffled (reproducibly for a seed) and dealt to validation, then test, until
    each holds about its fraction of the paintings; the rest train. A non-zero fraction always
    gets at least one artist.

    Raises:
        DataError: when there are too few artists for the parts asked for.
    """
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {value}")
    if val_fraction + test_fraction >= 1.0:
        raise ValueError("val_fraction + test_fraction must leave paintings to train on")
    counts = paintings.groupby("artist").size().sort_index()
    needed = 1 + (val_fraction > 0) + (test_fraction > 0)
    if len(counts) < needed:
        raise DataError(
            f"an artist-disjoint split into {needed} parts needs at least {needed} artists; found {len(counts)}"
        )
    rng = np.random.default_rng(seed)
    artists = list(counts.index[rng.permutation(len(counts))])
    total = int(counts.sum())
    parts: dict[str, list[str]] = {"val": [], "test": []}
    for part, fraction in (("val", val_fraction), ("test", test_fraction)):
        target = fraction * total
        taken = 0
        # Leave at least one artist for each part still to be filled and for training.
        while fraction > 0 and len(artists) > 1 + (part == "val" and test_fraction > 0):
            if parts[part] and taken >= target:
                break
            artist = artists.pop()
            parts[part].append(artist)
            taken += int(counts[artist])
    in_val = paintings["artist"].isin(parts["val"])
    in_test = paintings["artist"].isin(parts["test"])
    return Split(
        train=paintings[~in_val & ~in_test].reset_index(drop=True),
        val=paintings[in_val].reset_index(drop=True),
        test=paintings[in_test].reset_index(drop=True),
    )


def trainable_paintings(
    paintings: pd.DataFrame, *, min_paintings: int, max_per_artist: int | None, seed: int
) -> pd.DataFrame:
    """The paintings a training run uses: artists with ``min_paintings`` or more, capped per artist.

    The trainer and export's checks both call this, so they see the same paintings.
    """
    return cap_per_artist(filter_artists(paintings, min_paintings), max_per_artist, seed=seed)


def run_paintings(
    data_dir: DataDirs,
    *,
    exclude_artists: str | Path | None,
    hold_out_fold: str | None = None,
    min_paintings: int,
    max_per_artist: int | None,
    seed: int,
) -> tuple[Catalogue, pd.DataFrame, int]:
    """The training catalogue of a run, the paintings it trains and validates on, and how many
    listed paintings were left out because their files are missing.

    The artists named in ``exclude_artists`` (a file) and those of ``hold_out_fold`` (``"K/N"``,
    see `fold_artists`) are left out altogether.

    The trainer and export's checks both call this, so they see the same paintings.
    """
    catalogue = read_catalogue(data_dir, subset="train")
    listed = catalogue.paintings
    if exclude_artists:
        listed = select_artists(listed, read_artist_list(exclude_artists), keep=False)
    if hold_out_fold:
        listed = select_artists(listed, fold_artists(catalogue.paintings, hold_out_fold), keep=False)
    # A Kaggle listing often names files that were never downloaded: find out now, in one
    # listing per folder, rather than when a missing file is first sampled.
    present = listed["path"].isin(files_on_disk(catalogue.root, listed["path"]))
    if not present.any():
        raise DataError(
            f"{catalogue.root}: none of the {len(listed):,} listed paintings is on disk; check the folder "
            "with `painter-match scan` (images belong in train/ and test/ for the Kaggle layout)"
        )
    paintings = trainable_paintings(
        listed[present], min_paintings=min_paintings, max_per_artist=max_per_artist, seed=seed
    )
    return catalogue, paintings, int((~present).sum())
