"""The paintings most like one, and a vote on its artist: what ``painter-match similar`` does.

`nearest` ranks an embeddings file's paintings by cosine similarity to a query vector; with
`Labels` (a ``train_info.csv`` / ``all_data_info.csv``, or a Kaggle or folder-per-artist folder),
each neighbour's artist is looked up by its relative path, else by its file name when that name
is unique among the labels, and `artist_vote` ranks the artists by the sum of their neighbours'
similarities (negative similarities count zero): attribution of an unknown painting by its k
nearest labelled neighbours.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from painter_match.data.catalogue import read_catalogue, read_csv_checked, require_columns
from painter_match.inference.embeddings import Embeddings


class Labels:
    """Artist of an image by relative path, else by file name when that name is unique."""

    def __init__(self, pairs: list[tuple[str, str]], source: str) -> None:
        self.source = source
        self.by_path = dict(pairs)
        by_name: dict[str, str | None] = {}
        for path, artist in pairs:
            name = PurePosixPath(path).name
            # A name two images share cannot say which artist; leave it out rather than guess.
            by_name[name] = artist if name not in by_name else None
        self.by_name = {k: v for k, v in by_name.items() if v is not None}

    def __len__(self) -> int:
        return len(self.by_path)

    def artist(self, path: str) -> str | None:
        found = self.by_path.get(path)
        return found if found is not None else self.by_name.get(PurePosixPath(path).name)


def read_labels(location: str | Path) -> Labels:
    """Labels from a CSV with ``filename`` (or ``new_filename``) and ``artist``, or a data folder.

    Raises:
        DataError: naming the file or folder when it has neither layout.
    """
    location = Path(location)
    if location.is_dir():
        paintings = read_catalogue(location).paintings
        return Labels(list(zip(paintings["path"], paintings["artist"])), str(location))
    frame = read_csv_checked(location, ())
    name = "filename" if "filename" in frame.columns else "new_filename"
    require_columns(frame, location, (name, "artist"))
    names = frame[name].str.strip()
    artists = frame["artist"].str.strip()
    keep = (names != "") & (artists != "")
    return Labels(list(zip(names[keep], artists[keep])), str(location))


def find_row(query: str, embeddings: Embeddings) -> int | None:
    """The row of a query already in the file, by stored path or by a file inside its root."""
    rows = embeddings.index()
    if query in rows:
        return rows[query]
    path = Path(query)
    if embeddings.root and path.exists():
        try:
            relative = path.resolve().relative_to(embeddings.root).as_posix()
        except ValueError:
            return None
        return rows.get(relative)
    return None


@dataclass(frozen=True)
class Neighbour:
    """One of the nearest paintings: its stored path, cosine similarity, and artist if labelled."""

    path: str
    similarity: float
    artist: str | None = None


@dataclass(frozen=True)
class ArtistVote:
    """An artist's similarity-weighted vote among the neighbours, and its share of all votes."""

    artist: str
    score: float
    share: float


def nearest(
    embeddings: Embeddings,
    query: np.ndarray,
    k: int,
    *,
    exclude: int | None = None,
    labels: Labels | None = None,
) -> list[Neighbour]:
    """The ``k`` rows most similar to the unit vector ``query``, best first (ties in file order).

    Args:
        exclude: a row left out (the query itself, when it is in the file).
        labels: look each neighbour's artist up here.
    """
    similarity = embeddings.vectors @ query
    if exclude is not None:
        similarity[exclude] = -np.inf  # the query is not its own neighbour
    k = min(k, len(embeddings) - (exclude is not None))
    top = np.argpartition(-similarity, k - 1)[:k] if k > 0 else np.empty(0, dtype=np.int64)
    top = top[np.argsort(-similarity[top], kind="stable")]
    return [
        Neighbour(
            embeddings.paths[i],
            round(float(similarity[i]), 6),
            labels.artist(embeddings.paths[i]) if labels is not None else None,
        )
        for i in top.tolist()
    ]


def artist_vote(neighbours: Sequence[Neighbour]) -> list[ArtistVote]:
    """The neighbours' artists ranked by the sum of their similarities (negative ones count zero)."""
    votes: dict[str, float] = defaultdict(float)
    for neighbour in neighbours:
        if neighbour.artist is not None:
            votes[neighbour.artist] += max(neighbour.similarity, 0.0)
    total = sum(votes.values())
    return [
        ArtistVote(artist, round(score, 6), round(score / total, 6) if total > 0 else 0.0)
        for artist, score in sorted(votes.items(), key=lambda item: (-item[1], item[0]))
    ]
