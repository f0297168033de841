"""The ``similar`` page (`similar_report`): a section per query, the query large, its nearest
paintings in rank order and the artist vote as bars."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from painter_match.evaluation.page_parts import (
    _EMPTY,
    _artist_line,
    _image,
    _painting,
    _plural,
    _write_page,
    image_sides,
)
from painter_match.evaluation.render import Markup, join, render
from painter_match.evaluation.svg_plots import bars_svg
from painter_match.evaluation.thumbnails import QUERY_SIDE, THUMB_SIDE, ThumbnailCache
from painter_match.inference.neighbours import ArtistVote, Neighbour


@dataclass(frozen=True)
class SimilarQuery:
    """One query painting, its neighbours most similar first, and the artist vote (largest first).

    The neighbours and votes are `painter_match.inference.neighbours`' own (what ``similar``
    found); a neighbour's ``file`` is the image shown for it (its stored ``path`` when None).
    ``prior`` is the share of same-artist pairs the neighbours' P(same) assume (`SimilarResult.prior`),
    stated on the page so that a reader does not take 0.8 for "probably the same hand"."""

    path: Path
    name: str
    neighbours: Sequence[Neighbour]
    votes: Sequence[ArtistVote] = ()
    prior: float | None = None


def similar_report(
    queries: Sequence[SimilarQuery],
    out_path: str | Path,
    *,
    title: str = "Most similar paintings",
    subtitle: str | None = None,
    thumb_side: int = THUMB_SIDE,
    query_side: int = QUERY_SIDE,
) -> Path:
    """One page, a section per query: the query large, its nearest paintings in rank order (each
    with similarity, P(same artist), file name and artist), and the artist vote as bars.

    Args:
        queries: the queries in page order.
        out_path: the HTML file to write (replaced atomically).
        title: the page's heading.
        subtitle: the line under it; by default how many queries and neighbours.
        thumb_side, query_side: the longest side of neighbour thumbnails and of query images, in
            pixels, before a large page shrinks them (`image_sides`).

    Returns:
        ``out_path`` as a Path.
    """
    queries = list(queries)
    thumb, large = image_sides(
        sum(len(query.neighbours) for query in queries), len(queries), thumb_side, query_side
    )
    cache = ThumbnailCache()
    sections = [_query_section(i, query, cache, thumb, large) for i, query in enumerate(queries, start=1)]
    if subtitle is None:
        most = max((len(query.neighbours) for query in queries), default=0)
        subtitle = (
            f"{len(queries)} {_plural(len(queries), 'query', 'queries')}, up to {most} nearest paintings each"
        )
    body = join(sections) if sections else render("empty", text="No queries.")
    priors = sorted({query.prior for query in queries if query.prior is not None})
    if priors:
        body = join([_prior_note(priors), body])
    return _write_page(out_path, title, subtitle, body)


def _prior_note(priors: Sequence[float]) -> Markup:
    """What the neighbours' P(same) assume: read at one half, nearly any neighbour looks likely."""
    shares = " and ".join(f"{share:.1%}" for share in priors)
    text = (
        f"P(same) assumes that {shares} of the pairs asked about share an artist. "
        "Among a collection's paintings far fewer do (about 1 in the number of artists), "
    )
    if max(priors) >= 0.2:
        text += (
            "so at this share a painting by an unrelated painter can score 0.75 or more: read P(same) "
            "as a ranking, or give --prior (e.g. 1/artists) to move it to your collection's share."
        )
    else:
        text += "and --prior moved the probabilities to this share."
    return render("prior_note", share=f"{max(priors):.6g}", text=text)


def _query_section(index: int, query: SimilarQuery, cache: ThumbnailCache, thumb: int, large: int) -> Markup:
    neighbours = []
    for rank, n in enumerate(query.neighbours, start=1):
        file = n.file if n.file is not None else Path(n.path)
        copy = render("duplicate", text="the query's own copy: no vote") if n.duplicate_of_query else _EMPTY
        neighbours.append(
            render(
                "neighbour",
                path=str(file),
                rank=rank,
                duplicate="true" if n.duplicate_of_query else "false",
                image=_image(cache.get(file, thumb), n.path),
                name=n.path,
                artist=join([_artist_line(n.artist), copy]),
                similarity=f"{n.similarity:.4f}",
                similarity_exact=f"{n.similarity:.6f}",
                probability=f"{n.probability:.3f}" if n.probability is not None else "n/a",
                probability_exact=f"{n.probability:.6f}" if n.probability is not None else "",
            )
        )
    labelled = sum(1 for n in query.neighbours if n.artist is not None and not n.duplicate_of_query)
    copies = sum(1 for n in query.neighbours if n.duplicate_of_query)
    # Said as `verify --reference` says it: a copy of the query is no evidence for its artist.
    left_out = (
        f" {copies} {_plural(copies, 'neighbour', 'neighbours')} left out as the query's own copy "
        "(the same file, or a similarity of 0.9999 or more)."
        if copies
        else ""
    )
    if query.votes:
        votes = join(
            [
                bars_svg(
                    [(vote.artist, vote.share) for vote in query.votes], title=f"Artist vote for {query.name}"
                ),
                render(
                    "note",
                    text=f"Weighted by similarity, over the {labelled} of {len(query.neighbours)} "
                    f"neighbours with a known artist.{left_out}",
                ),
            ]
        )
    else:
        votes = render("empty", text=f"No vote: none of the neighbours has a known artist.{left_out}")
    k = len(query.neighbours)
    return render(
        "query",
        index=index,
        heading=f"Query {index}: {query.name}",
        painting=_painting(query.path, query.name, None, cache, large),
        votes=votes,
        count_text=f"The {k} nearest {_plural(k, 'painting', 'paintings')}, most similar first",
        side=thumb,
        neighbours=join(neighbours) if neighbours else render("empty", text="No neighbours."),
    )
