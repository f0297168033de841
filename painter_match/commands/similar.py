"""``painter-match similar QUERY --embeddings FILE``: the nearest paintings, and a vote on the artist.

QUERY is a path already in the embeddings file (as stored, or a file inside the folder that was
embedded), else an image file embedded with the model (which must be the one that made the
file), or a folder: each image in it is a query. One call of
`painter_match.inference.neighbours.similar` finds the neighbours and the vote; ``--html`` draws
them (`html_report.similar_report`), one section per query, with the same numbers as ``--json``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from painter_match.commands.common import (
    add_collection_option,
    add_command,
    add_find_painting_options,
    add_html_option,
    add_model_options,
    add_output_options,
    add_prior_option,
    check_html_output,
    load_model,
    positive_int,
    print_json,
    say,
)
from painter_match.errors import DataError, UsageError

if TYPE_CHECKING:
    from painter_match.inference.api import Model
    from painter_match.inference.embeddings import Embeddings
    from painter_match.inference.neighbours import SimilarResult


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
    add_collection_option(parser, "the embeddings file's paintings")
    add_prior_option(parser)
    add_model_options(parser, encode=False)
    # A query outside the file is embedded as the file's images were, unless told otherwise.
    same = "for a query not in the file, as the file's images were"
    add_find_painting_options(parser, default=same, edge_default=same)
    add_output_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from painter_match.inference.embeddings import load_embeddings
    from painter_match.inference.neighbours import similar

    if args.images is not None and args.html is None:
        raise UsageError("--images names where the thumbnails come from; it needs --html")
    check_html_output(
        args, [("embeddings file", args.embeddings), ("labels file", args.labels), ("query", args.query)]
    )
    embeddings = load_embeddings(args.embeddings)  # once: the search and the page's folder read it
    images = args.images if args.images is not None else (Path(embeddings.root) if embeddings.root else None)
    if args.html is not None:
        if images is None:
            raise DataError(
                f"{args.embeddings} does not record the folder it embedded; name it with --images"
            )
        if not images.is_dir():
            raise DataError(f"--images {images}: no such folder (the paintings' thumbnails come from there)")
        check_html_output(args, [("folder of images", images)])  # not one of the paintings it shows
    opened: list[Model] = []

    def model() -> Model:  # opened only for a query that is not in the file
        opened.append(load_model(args))
        return opened[0]

    results = similar(
        args.query,
        embeddings,
        k=args.k,
        labels=args.labels,
        model=model,
        max_pixels=args.max_pixels,
        collection=args.collection,
        find_painting=args.find_painting,
        painting_edge=args.painting_edge,
        prior=args.prior,
    )
    record = opened[0].record() if opened else {"identity": embeddings.source.identity}
    model_used = {**record, "from": str(args.embeddings)}
    if args.html is not None:
        assert images is not None
        _write_html(args, results, embeddings, images)
        say(args, f"report written to {args.html}")
    if args.json:
        payloads = [result.to_dict() for result in results]
        if Path(args.query).is_dir():
            print_json({"query": args.query, "queries": payloads, "model": model_used})
        else:
            print_json({**payloads[0], "model": model_used})
        return 0
    lines: list[str] = []
    for result in results:
        k = len(result.neighbours)
        lines.append(f"{k} most similar to {result.query}:")
        for rank, n in enumerate(result.neighbours, start=1):
            artist = f"  {n.artist}" if n.artist is not None else ""
            copy = "  (the query's own copy: no vote)" if n.duplicate_of_query else ""
            lines.append(f"{rank:>3}. {n.similarity:.4f}  {n.path}{artist}{copy}")
        if result.labels is not None:
            left_out = _copies_text(result.duplicates)
            if result.votes:
                lines.append(
                    f"most likely artists ({result.labelled} of {k} neighbours labelled{left_out}; "
                    "similarity-weighted vote):"
                )
                lines += [f"  {v.share:6.1%}  {v.artist}" for v in result.votes]
            else:
                lines.append(f"none of the {k} neighbours has a label in {result.labels}{left_out}")
    print("\n".join(lines))
    return 0


def _copies_text(copies: int) -> str:
    """What the vote left out, worded as ``verify --reference`` words it (empty for none)."""
    if not copies:
        return ""
    return f"; {copies} neighbour{'s' if copies > 1 else ''} left out as the query's own copy"


def _write_html(
    args: argparse.Namespace, results: list[SimilarResult], embeddings: Embeddings, images: Path
) -> None:
    from painter_match.evaluation.html_report import SimilarQuery, similar_report

    sections = []
    for result in results:
        shown = [replace(n, file=images / n.path) for n in result.neighbours]
        # A query named by its stored path is an image under --images; a missing one shows as a box
        # saying so, never a stop.
        given = Path(result.query)
        path = given if given.is_file() or result.row is None else images / embeddings.paths[result.row]
        sections.append(SimilarQuery(path, result.query, shown, result.votes, result.prior))
    thumbnails = [n.file for section in sections for n in section.neighbours if n.file is not None]
    missing = sum(not file.is_file() for file in thumbnails)
    if missing:
        # Each shows as a "not found" box; a wrong --images makes every one of them so: say it.
        print(
            f"painter-match: warning: {missing:,} of the {len(thumbnails):,} neighbours' images are not in "
            f"{images}, so the page shows them as not found; is it the folder that was embedded "
            f"({embeddings.root or 'not recorded'})? Name it with --images",
            file=sys.stderr,
        )
    similar_report(sections, args.html)
