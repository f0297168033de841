"""``painter-match similar QUERY --embeddings FILE``: the nearest paintings, and a vote on the artist.

QUERY is a path already in the embeddings file (as stored, or a file inside the folder that was
embedded), else an image file embedded with the model (which must be the one that made the
file). The search and the vote are `painter_match.inference.neighbours`'.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from painter_match.commands.common import (
    add_command,
    add_model_options,
    add_output_options,
    model_record,
    open_command_model,
    positive_int,
    print_json,
)
from painter_match.errors import DataError


def add_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = add_command(
        commands,
        "similar",
        help="the paintings most like one, and the most likely artists",
        description="The k paintings of an embeddings file most similar to QUERY (a path in the file, or an "
        "image embedded with the model). With --labels (train_info.csv, all_data_info.csv, or a Kaggle or "
        "folder-per-artist folder) the neighbours' artists are ranked by a similarity-weighted vote.",
    )
    parser.add_argument("query", metavar="QUERY", help="an image file, or a path stored in the embeddings")
    parser.add_argument("--embeddings", type=Path, required=True, help="embeddings file from `embed`")
    parser.add_argument("-k", type=positive_int, default=10, help="neighbours to list")
    parser.add_argument("--labels", type=Path, default=None, help="artist labels: a CSV or a data folder")
    add_model_options(parser, encode=False)
    add_output_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from painter_match.data.images import DEFAULT_MAX_PIXELS
    from painter_match.inference.embeddings import load_embeddings
    from painter_match.inference.encoder import OnnxEncoder
    from painter_match.inference.neighbours import artist_vote, find_row, nearest, read_labels

    embeddings = load_embeddings(args.embeddings)  # checked: finite vectors, distinct paths
    if len(embeddings) == 0:
        raise DataError(f"{args.embeddings} holds no embeddings")
    row = find_row(args.query, embeddings)
    model_used: dict[str, object] = {
        "identity": embeddings.source.identity,
        "from": str(args.embeddings),
    }
    if row is not None:
        query_vector = embeddings.vectors[row]
    elif Path(args.query).is_file():
        model = open_command_model(args)
        if model.info.identity != embeddings.source.info.identity:
            raise DataError(
                f"{args.embeddings} was made by model {embeddings.source.info.identity}, but {model.path} is "
                f"{model.info.identity}; embed the query with the same model (-m)"
            )
        encoder = OnnxEncoder(
            model, views=embeddings.source.views, workers=1, max_pixels=args.max_pixels or DEFAULT_MAX_PIXELS
        )
        query_vector = encoder.embed_pixels([encoder.pixels(args.query)])[0]
        model_used = {**model_record(model), "from": str(args.embeddings)}
    else:
        raise DataError(f"{args.query}: neither an image file nor a path in {args.embeddings}")

    labels = read_labels(args.labels) if args.labels is not None else None
    neighbours = nearest(embeddings, query_vector, args.k, exclude=row, labels=labels)
    k = len(neighbours)
    ranking = artist_vote(neighbours)
    labelled = sum(1 for n in neighbours if n.artist is not None)

    if args.json:
        payload: dict[str, object] = {
            "query": args.query,
            "query_in_embeddings": row is not None,
            "k": k,
            "neighbours": [
                {"path": n.path, "similarity": n.similarity, **({"artist": n.artist} if labels else {})}
                for n in neighbours
            ],
            "model": model_used,
        }
        if labels is not None:
            payload["artists"] = [{"artist": r.artist, "score": r.score, "share": r.share} for r in ranking]
            payload["labelled_neighbours"] = labelled
        print_json(payload)
        return 0
    lines = [f"{k} most similar to {args.query}:"]
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
