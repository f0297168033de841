"""The paintings most like one, and a vote on its artist: what ``painter-match similar`` does.

`similar` is the command's one call: it finds each query's row in the embeddings file (or embeds
it with the model that made the file), then `nearest` ranks an embeddings file's paintings by cosine similarity to a query vector; with
`Labels` (a ``train_info.csv`` / ``all_data_info.csv``, or a Kaggle or folder-per-artist folder),
each neighbour's artist is looked up by its relative path, else by its file name when that name
is unique among the labels, and `artist_vote` ranks the artists by the sum of their neighbours'
similarities (negative similarities count zero): attribution of an unknown painting by its k
nearest labelled neighbours.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np

from painter_match.inference.collection import adapt_for_model
from painter_match.inference.embeddings import Embeddings

if TYPE_CHECKING:
    from painter_match.inference.api import Model
    from painter_match.inference.calibration import Calibration


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
    # pandas only here: the neighbours' dataclasses stay light for the HTML pages that draw them.
    from painter_match.data.catalogue import read_catalogue, read_csv_checked, require_columns

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
    """One of a query's nearest paintings (what ``similar`` prints and its ``--html`` page shows).

    Attributes:
        path: the painting's path as stored in the embeddings file (what the page calls it).
        similarity: cosine similarity to the query.
        artist: its artist, when labels were given and name it.
        probability: calibrated P(same artist) of the pair, when a calibration was given.
        file: the image file a page shows; None: ``path`` itself.
    """

    path: str
    similarity: float
    artist: str | None = None
    probability: float | None = None
    file: Path | None = None


@dataclass(frozen=True)
class ArtistVote:
    """An artist's similarity-weighted vote among a query's neighbours, and its share of all votes (0-1)."""

    artist: str
    score: float
    share: float


@dataclass(frozen=True)
class SimilarResult:
    """One query's nearest paintings and the vote on its artist (`similar`).

    Attributes:
        query: the query as given (a path stored in the file, or an image file).
        row: its row in the embeddings file, or None when it was embedded with the model.
        neighbours: the nearest paintings, most similar first.
        votes: the artists ranked by their neighbours' similarities (empty without labels).
        labels: where the artists came from, or None without labels.
    """

    query: str
    row: int | None
    neighbours: tuple[Neighbour, ...]
    votes: tuple[ArtistVote, ...] = ()
    labels: str | None = None
    collection: Mapping[str, Any] | None = None

    @property
    def labelled(self) -> int:
        """How many neighbours have a known artist."""
        return sum(1 for n in self.neighbours if n.artist is not None)

    def to_dict(self) -> dict[str, object]:
        """The JSON-ready result ``similar --json`` prints for one query."""
        payload: dict[str, object] = {
            "query": self.query,
            "query_in_embeddings": self.row is not None,
            "k": len(self.neighbours),
            "neighbours": [
                {
                    "path": n.path,
                    "similarity": n.similarity,
                    **({"probability": n.probability} if n.probability is not None else {}),
                    **({"artist": n.artist} if self.labels is not None else {}),
                }
                for n in self.neighbours
            ],
        }
        if self.labels is not None:
            payload["artists"] = [
                {"artist": v.artist, "score": v.score, "share": v.share} for v in self.votes
            ]
            payload["labelled_neighbours"] = self.labelled
        if self.collection is not None:
            payload["collection"] = dict(self.collection)
        return payload


def nearest(
    embeddings: Embeddings,
    query: np.ndarray,
    k: int,
    *,
    exclude: int | None = None,
    labels: Labels | None = None,
    calibration: Calibration | None = None,
) -> list[Neighbour]:
    """The ``k`` rows most similar to the unit vector ``query``, best first (ties in file order).

    Args:
        exclude: a row left out (the query itself, when it is in the file).
        labels: look each neighbour's artist up here.
        calibration: give each neighbour its calibrated P(same artist) too.
    """
    similarity = embeddings.vectors @ query
    if exclude is not None:
        similarity[exclude] = -np.inf  # the query is not its own neighbour
    k = min(k, len(embeddings) - (exclude is not None))
    top = np.argpartition(-similarity, k - 1)[:k] if k > 0 else np.empty(0, dtype=np.int64)
    top = top[np.argsort(-similarity[top], kind="stable")]
    found = []
    for i in top.tolist():
        rounded = round(float(similarity[i]), 6)
        found.append(
            Neighbour(
                embeddings.paths[i],
                rounded,
                labels.artist(embeddings.paths[i]) if labels is not None else None,
                round(float(calibration.probability(rounded)), 6) if calibration is not None else None,
            )
        )
    return found


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


def similar(
    query: str | Path,
    embeddings: Embeddings | str | Path,
    *,
    k: int = 10,
    labels: Labels | str | Path | None = None,
    model: Model | Callable[[], Model] | None = None,
    max_pixels: int | None = None,
    collection: str = "auto",
) -> list[SimilarResult]:
    """The ``k`` paintings of an embeddings file most like a query, and a vote on its artist: what
    ``painter-match similar`` does.

    Args:
        query: a path stored in the file (or a file inside the folder it embedded), an image file
            (embedded with ``model``), or a folder whose images are each a query.
        embeddings: the file from ``painter-match embed`` (or `load_embeddings`' result).
        k: neighbours per query.
        labels: artist labels (`read_labels`: ``train_info.csv``, ``all_data_info.csv``, or a
            Kaggle or folder-per-artist folder), or None for no vote.
        model: the model that made the file, for queries not in it: a `Model`, or a function that
            opens one (called only when a query needs it); None: `painter_match.load()`'s choice.
        max_pixels: the largest query image to decode; None means 300 million pixels.
        collection: ``"auto"`` (the model's default: every vector, the queries' too, centred on
            the mean of the file's paintings when the model states it), ``"centre"`` or ``"none"``
            (`painter_match.inference.collection`); the probabilities take the matching calibration.

    Returns:
        One `SimilarResult` per query (one for a file, one per image for a folder), each
        neighbour with its calibrated P(same artist) under the file's calibration.

    Raises:
        DataError: an empty file or folder, a query that is neither in the file nor an image
            file, or a model other than the one that made the file.
        ImageLoadError: a query image that cannot be decoded.
    """
    from painter_match.data.images import find_images
    from painter_match.errors import DataError
    from painter_match.inference.embeddings import load_embeddings

    file = embeddings if isinstance(embeddings, (str, Path)) else "the embeddings"
    if isinstance(embeddings, (str, Path)):
        embeddings = load_embeddings(embeddings)  # checked: finite vectors, distinct paths
    if len(embeddings) == 0:
        raise DataError(f"{file} holds no embeddings")
    given = Path(query)
    names = [str(path) for path in find_images(given)] if given.is_dir() else [str(query)]
    if not names:
        raise DataError(f"{given}: the folder holds no image to query")
    rows = [find_row(name, embeddings) for name in names]
    outside = [name for name, row in zip(names, rows) if row is None]
    for name in outside:
        if not Path(name).is_file():
            raise DataError(f"{name}: neither an image file nor a path in {file}")
    vectors: dict[str, np.ndarray] = {}
    if outside:
        opened = _open(model)
        if opened.info.identity != embeddings.source.info.identity:
            raise DataError(
                f"{file} was made by model {embeddings.source.info.identity}, but {opened.path} is "
                f"{opened.info.identity}; embed the query with the same model (-m)"
            )
        # One at a time, as a query is embedded alone; decoding raises ImageLoadError naming the
        # file: a query that cannot be read is the answer.
        for name in outside:
            vectors[name] = opened.embed(
                name, views=embeddings.source.views, workers=1, max_pixels=max_pixels
            )
    read = read_labels(labels) if isinstance(labels, (str, Path)) else labels
    info = embeddings.source.info
    adaptation, calibration = adapt_for_model(
        embeddings.vectors, info.collection, info.calibration, collection
    )
    if adaptation.applied:
        embeddings = replace(embeddings, vectors=adaptation.apply(embeddings.vectors))
        vectors = {name: adaptation.apply(vector[None])[0] for name, vector in vectors.items()}
    results = []
    for name, row in zip(names, rows):
        vector = embeddings.vectors[row] if row is not None else vectors[name]
        neighbours = nearest(embeddings, vector, k, exclude=row, labels=read, calibration=calibration)
        results.append(
            SimilarResult(
                name,
                row,
                tuple(neighbours),
                tuple(artist_vote(neighbours)),
                read.source if read is not None else None,
                adaptation.record(),
            )
        )
    return results


def _open(model: Model | Callable[[], Model] | None) -> Model:
    from painter_match.inference.api import Model, load

    if isinstance(model, Model):
        return model
    return model() if model is not None else load()
