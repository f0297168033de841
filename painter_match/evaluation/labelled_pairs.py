"""Labelled pairs of paintings: which pairs to score, and whether each shares an artist.

Three sources, tried in this order by `labelled_pairs`: an explicit pairs file with its ground
truth; a Kaggle folder's own ``submission_info.csv`` + ``solution.csv``; or every pair of a
labelled folder's paintings, with at most ``max_per_artist`` per artist so that one prolific
painter does not dominate. Each image is listed once; pairs refer to it by index, so that an
evaluation decodes every image exactly once. The pairs are the data layer's one container,
`painter_match.data.pairs.Pairs`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from painter_match.data.catalogue import (
    ALL_DATA_INFO,
    SOLUTION,
    SUBMISSION_INFO,
    DataDirs,
    data_folders,
    read_catalogue,
)
from painter_match.data.images import resolve_inside
from painter_match.data.pair_files import read_solution, read_submission_info
from painter_match.data.pairs import Pairs, all_pairs_of
from painter_match.data.selection import cap_per_artist, select_artists
from painter_match.errors import DataError


def kaggle_test_pairs(root: Path, pairs_file: Path, solution_file: Path) -> Pairs:
    """The competition's pairs with ground truth; artists from all_data_info.csv when present."""
    pairs = read_submission_info(pairs_file)
    truth = read_solution(solution_file)
    merged = pairs.merge(truth, on="index", how="left")
    if merged["sameArtist"].isna().any():
        missing = merged.loc[merged["sameArtist"].isna(), "index"].iloc[0]
        raise DataError(f"{solution_file}: no ground truth for pair index {missing}")
    names = pd.unique(pd.concat([merged["image1"], merged["image2"]], ignore_index=True))
    folder = root / "test" if (root / "test").is_dir() else root
    for name in names:
        resolve_inside(folder, name)
    prefix = "test/" if folder != root else ""
    position = {name: i for i, name in enumerate(names)}
    artist_of: dict[str, str] = {}
    if (root / ALL_DATA_INFO).is_file():
        listing = read_catalogue(root).paintings
        artist_of = dict(zip(listing["path"], listing["artist"]))
    images = [prefix + name for name in names]
    return Pairs(
        root=root,
        paths=images,
        first=merged["image1"].map(position).to_numpy(np.int64),
        second=merged["image2"].map(position).to_numpy(np.int64),
        same=merged["sameArtist"].astype(bool).to_numpy(),
        artists=[artist_of.get(path) for path in images],
        source=f"{pairs_file.name} + {solution_file.name}",
    )


def labelled_pairs(
    data_dir: DataDirs,
    *,
    pairs_file: Path | None,
    solution_file: Path | None,
    max_per_artist: int | None,
    seed: int,
    artists: set[str] | None = None,
) -> Pairs:
    """Choose the pairs: an explicit pairs file, the folder's Kaggle test pairs, or all capped pairs.

    Several folders are read as one catalogue (`read_catalogue`) and always give all capped pairs;
    ``artists`` (`artist_key` values) restricts all-pairs scoring to those artists.
    """
    folders = data_folders(data_dir)
    single = folders[0] if len(folders) == 1 else None
    if pairs_file is not None:
        if solution_file is None:
            raise DataError(f"{pairs_file}: evaluating a pairs file needs its ground truth: pass --solution")
        if single is None:
            raise DataError(
                f"{pairs_file}: a pairs file names images of one data folder; give only that folder"
            )
        return kaggle_test_pairs(single, pairs_file, solution_file)
    if (
        single is not None
        and artists is None
        and (single / SUBMISSION_INFO).is_file()
        and (single / SOLUTION).is_file()
    ):
        return kaggle_test_pairs(single, single / SUBMISSION_INFO, single / SOLUTION)
    catalogue = read_catalogue(folders)
    paintings = catalogue.paintings
    if artists is not None:
        paintings = select_artists(paintings, artists, keep=True)
        if paintings["artist"].nunique() < 2:
            raise DataError(
                f"{', '.join(map(str, folders))}: {paintings['artist'].nunique()} of the listed artists found; "
                "all-pairs scoring needs two or more"
            )
    paintings = cap_per_artist(paintings, max_per_artist, seed=seed)
    cap = f", at most {max_per_artist} per artist" if max_per_artist else ""
    return all_pairs_of(catalogue.root, paintings, f"all pairs of {len(paintings):,} paintings{cap}")
