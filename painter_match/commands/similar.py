"""``painter-match similar QUERY --embeddings FILE``: the nearest paintings, and a vote on the artist.

QUERY is a path already in the embeddings file (as stored, or a file inside the folder that was
embedded), else an image file embedded with the model (which must be the one that made the
file), or a folder: each image in it is a query. The search and the vote are
`painter_match.inference.neighbours`'; ``--html`` draws them (`html_report.similar_report`), one
section per query, with the same numbers as ``--json``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from painter_match.commands.common import (
    add_command,
    add_html_option,
    add_model_options,
    add_output_options,
    check_html_output,
    model_record,
    open_command_model,
    positive_int,
    print_json,
    say,
)
from painter_match.errors import DataError, UsageError

if TYPE_CHECKING:
    import numpy as np

    from painter_match.inference.embeddings import Embeddings
    from painter_match.inference.neighbours import Labels


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = add_command(
        commands,
        "similar",
        help="the paintings most like one, and the most likely artists",
        description="The k paintings of an embeddings file most similar to QUERY (a path in the file, or an "
        "image embedded with the model). With --labels (train_info.csv, all_data_info.csv, or a Kaggle or "
        "folder-per-artist folder) the neighbours' artists are ranked by a similarity-weighted vote.",
    )
    parser.add_argument(
        "query",
        metavar="QUERY",
        help="an image file, a path stored in the embeddings, or a folder whose images are each a query",
    )
    parser.add_argument("--embeddings", type=Path, required=True, help="embeddings file from `embed`")
    parser.add_argument("-k", type=positive_int, default=10, help="neighbours to list")
    parser.add_argument("--labels", type=Path, default=None, help="artist labels: a CSV or a data folder")
    add_html_option(
        parser,
        "each query large, its neighbours as thumbnails with similarity, P(same artist), file name and "
        "artist, and the artist vote as bars",
    )
    parser.add_argument(
        "--images",
        metavar="DIR",
        type=Path,
        default=None,
        help="with --html: the folder the embeddings' paths are relative to (default: the folder that "
        "was embedded, as recorded in the file)",
    )
    add_model_options(parser, encode=False)
    add_output_options(parser)
    return parser


@dataclass(frozen=True)
class _Query:
    """One query: as given, its vector, and its row in the file (None when embedded here)."""

    name: str
    vector: np.ndarray
    row: int | None


def _queries(args: argparse.Namespace, embeddings: Embeddings) -> tuple[list[_Query], dict[str, object]]:
    """The queries (QUERY itself, or each image in the folder QUERY) and the record of the model used."""
    from painter_match.data.images import DEFAULT_MAX_PIXELS, find_images
    from painter_match.inference.encoder import OnnxEncoder
    from painter_match.inference.neighbours import find_row

    model_used: dict[str, object] = {"identity": embeddings.source.identity, "from": str(args.embeddings)}
    given = Path(args.query)
    names = [str(path) for path in find_images(given)] if given.is_dir() else [args.query]
    if not names:
        raise DataError(f"{given}: the folder holds no image to query")
    rows = [find_row(name, embeddings) for name in names]
    outside = [name for name, row in zip(names, rows) if row is None]
    for name in outside:
        if not Path(name).is_file():
            raise DataError(f"{name}: neither an image file nor a path in {args.embeddings}")
    vectors: dict[str, np.ndarray] = {}
    if outside:
        model = open_command_model(args)
        if model.info.identity != embeddings.source.info.identity:
            raise DataError(
                f"{args.embeddings} was made by model {embeddings.source.info.identity}, but {model.path} is "
                f"{model.info.identity}; embed the query with the same model (-m)"
            )
        encoder = OnnxEncoder(
            model, views=embeddings.source.views, workers=1, max_pixels=args.max_pixels or DEFAULT_MAX_PIXELS
        )
        # Decoding raises ImageLoadError naming the file: a query that cannot be read is the answer.
        for name in outside:
            vectors[name] = encoder.embed_pixels([encoder.pixels(name)])[0]
        model_used = {**model_record(model), "from": str(args.embeddings)}
    queries = [
        _Query(name, vectors[name], None) if row is None else _Query(name, embeddings.vectors[row], row)
        for name, row in zip(names, rows)
    ]
    return queries, model_used


def _payload(
    query: _Query, neighbours: list[Any], ranking: list[Any], labels: Labels | None, calibration: Any
) -> dict[str, object]:
    payload: dict[str, object] = {
        "query": query.name,
        "query_in_embeddings": query.row is not None,
        "k": len(neighbours),
        "neighbours": [
            {
                "path": n.path,
                "similarity": n.similarity,
                "probability": round(float(calibration.probability(n.similarity)), 6),
                **({"artist": n.artist} if labels else {}),
            }
            for n in neighbours
        ],
    }
    if labels is not None:
        payload["artists"] = [{"artist": r.artist, "score": r.score, "share": r.share} for r in ranking]
        payload["labelled_neighbours"] = sum(1 for n in neighbours if n.artist is not None)
    return payload


def run(args: argparse.Namespace) -> int:
    from painter_match.inference.embeddings import load_embeddings
    from painter_match.inference.neighbours import artist_vote, nearest, read_labels

    if args.images is not None and args.html is None:
        raise UsageError("--images names where the thumbnails come from; it needs --html")
    check_html_output(
        args, [("embeddings file", args.embeddings), ("labels file", args.labels), ("query", args.query)]
    )
    embeddings = load_embeddings(args.embeddings)  # checked: finite vectors, distinct paths
    if len(embeddings) == 0:
        raise DataError(f"{args.embeddings} holds no embeddings")
    images = args.images if args.images is not None else (Path(embeddings.root) if embeddings.root else None)
    if args.html is not None:
        if images is None:
            raise DataError(
                f"{args.embeddings} does not record the folder it embedded; name it with --images"
            )
        if not images.is_dir():
            raise DataError(f"--images {images}: no such folder (the paintings' thumbnails come from there)")
    queries, model_used = _queries(args, embeddings)
    labels = read_labels(args.labels) if args.labels is not None else None
    calibration = embeddings.source.info.calibration
    results = []
    for query in queries:
        neighbours = nearest(embeddings, query.vector, args.k, exclude=query.row, labels=labels)
        results.append((query, neighbours, artist_vote(neighbours)))

    if args.html is not None:
        assert images is not None
        _write_html(args, results, embeddings, images, calibration)
        say(args, f"report written to {args.html}")
    if args.json:
        payloads = [_payload(q, n, r, labels, calibration) for q, n, r in results]
        if Path(args.query).is_dir():
            print_json({"query": args.query, "queries": payloads, "model": model_used})
        else:
            print_json({**payloads[0], "model": model_used})
        return 0
    lines: list[str] = []
    for query, neighbours, ranking in results:
        k = len(neighbours)
        labelled = sum(1 for n in neighbours if n.artist is not None)
        lines.append(f"{k} most similar to {query.name}:")
        for rank, n in enumerate(neighbours, start=1):
            artist = f"  {n.artist}" if n.artist is not None else ""
            lines.append(f"{rank:>3}. {n.similarity:.4f}  {n.path}{artist}")
        if labels is not None:
            if ranking:
                lines.append(
                    f"most likely artists ({labelled} of {k} neighbours labelled; similarity-weighted vote):"
                )
                lines += [f"  {r.share:6.1%}  {r.artist}" for r in ranking]
            else:
                lines.append(f"none of the {k} neighbours has a label in {labels.source}")
    print("\n".join(lines))
    return 0


def _write_html(
    args: argparse.Namespace, results: list[Any], embeddings: Embeddings, images: Path, calibration: Any
) -> None:
    from painter_match.evaluation.html_report import ArtistVote, Neighbour, SimilarQuery, similar_report

    sections = []
    for query, neighbours, ranking in results:
        shown = [
            Neighbour(
                images / n.path,
                n.path,
                n.similarity,
                round(float(calibration.probability(n.similarity)), 6),
                n.artist,
            )
            for n in neighbours
        ]
        votes = [ArtistVote(r.artist, r.share) for r in ranking]
        # A query named by its stored path is an image under --images; a missing one shows as a box
        # saying so, never a stop.
        given = Path(query.name)
        path = given if given.is_file() or query.row is None else images / embeddings.paths[query.row]
        sections.append(SimilarQuery(path, query.name, shown, votes))
    similar_report(sections, args.html)
