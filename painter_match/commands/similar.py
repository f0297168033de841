"""`painter-match similar QUERY --embeddings FILE`: the nearest paintings, and a vote on the artist.

QUERY is a path already in the embeddings file (as stored, or a file inside the folder that was
embedded), else an image file embedded with the model (which must be the one that made the
file). With ``--labels`` (a ``train_info.csv`` / ``all_data_info.csv``, or a Kaggle or
folder-per-artist folder) each neighbour's artist is looked up by its relative path, else by its
file name when that name is unique among the labels, and the artists are ranked by the sum of
their neighbours' similarities (negative similarities count zero): attribution of an unknown
painting by its k nearest labelled neighbours.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path, PurePosixPath

import numpy as np

from painter_match.commands.common import load_model, model_record, print_json
from painter_match.data.catalogue import read_catalogue, read_csv_checked, require_columns
from painter_match.data.images import DEFAULT_MAX_PIXELS
from painter_match.embeddings import Embeddings, load_embeddings
from painter_match.encoder import Encoder
from painter_match.errors import DataError


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


def read_labels(location: Path) -> Labels:
    """Labels from a CSV with ``filename`` (or ``new_filename``) and ``artist``, or a data folder.

    Raises:
        DataError: naming the file or folder when it has neither layout.
    """
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


def _find_query(query: str, embeddings: Embeddings) -> int | None:
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


def run(args: argparse.Namespace) -> int:
    embeddings = load_embeddings(args.embeddings)  # checked: finite vectors, distinct paths
    if len(embeddings) == 0:
        raise DataError(f"{args.embeddings} holds no embeddings")
    row = _find_query(args.query, embeddings)
    model_used: dict[str, object] | None = None
    if row is not None:
        query_vector = embeddings.vectors[row]
    elif Path(args.query).is_file():
        model = load_model(args)
        if model.info.identity != embeddings.source.info.identity:
            raise DataError(
                f"{args.embeddings} was made by model {embeddings.source.info.identity}, but {model.path} is "
                f"{model.info.identity}; embed the query with the same model (-m)"
            )
        encoder = Encoder(
            model, views=embeddings.source.views, workers=1, max_pixels=args.max_pixels or DEFAULT_MAX_PIXELS
        )
        query_vector = encoder.embed_pixels([encoder.pixels(args.query)])[0]
        model_used = model_record(model)
    else:
        raise DataError(f"{args.query}: neither an image file nor a path in {args.embeddings}")

    similarity = embeddings.vectors @ query_vector
    if row is not None:
        similarity[row] = -np.inf  # the query is not its own neighbour
    k = min(args.k, len(embeddings) - (row is not None))
    top = np.argpartition(-similarity, k - 1)[:k] if k > 0 else np.empty(0, dtype=np.int64)
    top = top[np.argsort(-similarity[top], kind="stable")]

    labels = read_labels(args.labels) if args.labels is not None else None
    neighbours: list[dict[str, object]] = []
    votes: dict[str, float] = defaultdict(float)
    for i in top.tolist():
        entry: dict[str, object] = {"path": embeddings.paths[i], "similarity": round(float(similarity[i]), 6)}
        if labels is not None:
            artist = labels.artist(embeddings.paths[i])
            entry["artist"] = artist
            if artist is not None:
                votes[artist] += max(float(similarity[i]), 0.0)
        neighbours.append(entry)
    total = sum(votes.values())
    ranking = [
        {"artist": artist, "score": round(score, 6), "share": round(score / total, 6) if total > 0 else 0.0}
        for artist, score in sorted(votes.items(), key=lambda item: (-item[1], item[0]))
    ]
    labelled = sum(1 for n in neighbours if n.get("artist") is not None)

    if args.json:
        payload: dict[str, object] = {
            "query": args.query,
            "query_in_embeddings": row is not None,
            "k": k,
            "neighbours": neighbours,
        }
        if labels is not None:
            payload["artists"] = ranking
            payload["labelled_neighbours"] = labelled
        if model_used is not None:
            payload["model"] = model_used
        print_json(payload)
        return 0
    lines = [f"{k} most similar to {args.query}:"]
    for rank, n in enumerate(neighbours, start=1):
        artist = f"  {n['artist']}" if n.get("artist") is not None else ""
        lines.append(f"{rank:>3}. {n['similarity']:.4f}  {n['path']}{artist}")
    if labels is not None:
        if ranking:
            lines.append(
                f"most likely artists ({labelled} of {k} neighbours labelled; similarity-weighted vote):"
            )
            lines += [f"  {r['share']:6.1%}  {r['artist']}" for r in ranking]
        else:
            lines.append(f"none of the {k} neighbours has a label in {labels.source}")
    print("\n".join(lines))
    return 0
