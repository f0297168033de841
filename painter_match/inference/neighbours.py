"""The paintings most like one, and a vote on its artist: what ``painter-match similar`` does.

`similar` is the command's one call: it finds each query's row in the embeddings file (or embeds
it with the model that made the file), then `nearest` ranks an embeddings file's paintings by cosine similarity to a query vector; with
`Labels` (a ``train_info.csv`` / ``all_data_info.csv``, or a Kaggle or folder-per-artist folder),
each neighbour's artist is looked up by its relative path, else by its file name when that name
is unique among the labels, and `artist_vote` ranks the artists by the sum of their neighbours'
similarities (negative similarities count zero): attribution of an unknown painting by its k
nearest labelled neighbours. A neighbour that is the query's own copy (the same file content, or a
similarity of at least `DUPLICATE_SIMILARITY`) stays in the list, marked, but has no vote: a copy
says nothing about who painted the query, as a reference leaves out the query itself.
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

# The least similarity at which a neighbour is taken for the query's own copy (left out of the vote).
# Higher than a reference's `NEAR_DUPLICATE` (0.995): there 11.5% of `make demo`'s distinct paintings
# have a neighbour at 0.995 or more, and losing a real neighbour's vote costs more than keeping a
# re-encoded copy's; the closest two distinct paintings measured score 0.9993. The same file scores
# 1.0 (the same pixels, embedded the same way); a copy read from another path is caught by content.
DUPLICATE_SIMILARITY = 0.9999


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
        duplicate_of_query: the query's own copy (same file content, or a similarity of at least
            `DUPLICATE_SIMILARITY`): listed, but left out of the artist vote.
    """

    path: str
    similarity: float
    artist: str | None = None
    probability: float | None = None
    file: Path | None = None
    duplicate_of_query: bool = False


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
        collection: the collection adaptation applied (`Adaptation.record`).
        prior: the share of same-artist pairs the probabilities assume (the calibration's own, or
            the ``prior`` asked for); None without probabilities.
    """

    query: str
    row: int | None
    neighbours: tuple[Neighbour, ...]
    votes: tuple[ArtistVote, ...] = ()
    labels: str | None = None
    collection: Mapping[str, Any] | None = None
    prior: float | None = None

    @property
    def labelled(self) -> int:
        """How many neighbours have a known artist and a vote (the query's copies have none)."""
        return sum(1 for n in self.neighbours if n.artist is not None and not n.duplicate_of_query)

    @property
    def duplicates(self) -> int:
        """How many neighbours are the query's own copy, left out of the vote."""
        return sum(1 for n in self.neighbours if n.duplicate_of_query)

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
                    "duplicate_of_query": n.duplicate_of_query,
                }
                for n in self.neighbours
            ],
            "left_out_as_query_copy": self.duplicates,
        }
        if self.prior is not None:
            payload["prior"] = self.prior
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
    """The neighbours' artists ranked by the sum of their similarities (negative ones count zero);
    the query's own copies (``duplicate_of_query``) have no vote."""
    votes: dict[str, float] = defaultdict(float)
    for neighbour in neighbours:
        if neighbour.artist is not None and not neighbour.duplicate_of_query:
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
    find_painting: str | None = None,
    painting_edge: str | None = None,
    prior: float | None = None,
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
        find_painting, painting_edge: look for the painting in a query embedded with ``model``
            (`Model.encoder`); None: as the file's images were (``EmbeddingSource.find_painting``,
            ``"off"`` for a file made before the finder), so that a query is embedded as they were.
        prior: the share of same-artist pairs among the pairs asked about (about 1 / artists for
            a painting against a collection): the probabilities are moved to it by Bayes' rule, as
            ``verify --prior`` does; None: the calibration's own share, usually one half, which
            makes unrelated painters look likely. The ranking and the vote do not change.

    Returns:
        One `SimilarResult` per query (one for a file, one per image for a folder), each
        neighbour with its calibrated P(same artist) under the file's calibration. A neighbour
        that is the query's own copy is marked ``duplicate_of_query`` and has no vote.

    Raises:
        DataError: an empty file or folder, a query that is neither in the file nor an image
            file, a model other than the one that made the file, or a ``prior`` for a
            calibration that records no share to move from.
        ImageLoadError: a query image that cannot be decoded.
        ValueError: ``prior`` not strictly between 0 and 1.
    """
    from painter_match.data.images import find_images
    from painter_match.errors import DataError
    from painter_match.inference.embeddings import load_embeddings
    from painter_match.inference.runtime import moved_to_prior

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
        source = embeddings.source
        for name in outside:
            vectors[name] = opened.embed(
                name,
                views=source.views,
                workers=1,
                max_pixels=max_pixels,
                find_painting=find_painting if find_painting is not None else source.find_painting,
                painting_edge=painting_edge if painting_edge is not None else source.painting_edge,
            )
    read = read_labels(labels) if isinstance(labels, (str, Path)) else labels
    info = embeddings.source.info
    adaptation, calibration = adapt_for_model(
        embeddings.vectors, info.collection, info.calibration, collection
    )
    if calibration is not None:
        calibration = moved_to_prior(calibration, prior, file, "embed the folder again with a current model")
    if adaptation.applied:
        embeddings = replace(embeddings, vectors=adaptation.apply(embeddings.vectors))
        vectors = {name: adaptation.apply(vector[None])[0] for name, vector in vectors.items()}
    results = []
    for name, row in zip(names, rows):
        vector = embeddings.vectors[row] if row is not None else vectors[name]
        found = nearest(embeddings, vector, k, exclude=row, labels=read, calibration=calibration)
        query_file = Path(name) if row is None else _stored_file(embeddings, embeddings.paths[row])
        neighbours = mark_duplicates(found, query_file, embeddings.root)
        results.append(
            SimilarResult(
                name,
                row,
                tuple(neighbours),
                tuple(artist_vote(neighbours)),
                read.source if read is not None else None,
                adaptation.record(),
                round(float(calibration.positive_share), 6) if calibration is not None else None,
            )
        )
    return results


def mark_duplicates(
    neighbours: Sequence[Neighbour], query_file: Path | None, root: str | Path | None
) -> list[Neighbour]:
    """``neighbours`` with the query's own copies marked ``duplicate_of_query``.

    A copy is a neighbour at `DUPLICATE_SIMILARITY` or more, or, among those at the reference's
    `NEAR_DUPLICATE` or more (a few files at most, so the digests cost little), one whose file
    under ``root`` holds the same bytes as ``query_file``.
    """
    from painter_match.inference.reference.set import NEAR_DUPLICATE, file_digest

    query_digest: str | None = None
    marked = []
    for n in neighbours:
        duplicate = n.similarity >= DUPLICATE_SIMILARITY
        if not duplicate and n.similarity >= NEAR_DUPLICATE and query_file is not None:
            other = _stored_file_under(root, n.path)
            if other is not None:
                if query_digest is None:
                    query_digest = _digest_or_none(query_file, file_digest)
                duplicate = query_digest is not None and _digest_or_none(other, file_digest) == query_digest
        marked.append(replace(n, duplicate_of_query=True) if duplicate else n)
    return marked


def _stored_file(embeddings: Embeddings, path: str) -> Path | None:
    return _stored_file_under(embeddings.root, path)


def _stored_file_under(root: str | Path | None, path: str) -> Path | None:
    file = Path(root) / path if root else Path(path)
    return file if file.is_file() else None


def _digest_or_none(file: Path, digest: Callable[[Path], str]) -> str | None:
    try:
        return digest(file)
    except OSError:  # a file gone or unreadable: judged by similarity alone
        return None


def _open(model: Model | Callable[[], Model] | None) -> Model:
    from painter_match.inference.api import Model, load

    if isinstance(model, Model):
        return model
    return model() if model is not None else load()
