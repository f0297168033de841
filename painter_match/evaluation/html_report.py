"""Self-contained HTML pages for people who would rather look: `similar_report`, `verify_report`
and `evaluation_report`.

Each takes plain data (`SimilarQuery`, `PairExample`, numbers, arrays) that a command has already
computed, and writes one HTML file atomically: paintings inlined as small JPEGs (`thumbnails`),
plots as inline SVG (`svg_plots`), markup from the one template (`render`), no script and no URL,
so the page reads offline and prints. numpy and Pillow only: the inference-only install writes
them. A painting that cannot be decoded shows as a box with the cause; it never stops a report.

Size: a thumbnail is about 7 kB once inlined (160 px, measured on WikiArt reproductions), a
400 px query image about 40 kB. Once a page's images would cover more than `FULL_SIZE_IMAGES`
full-size thumbnails, every image shrinks to fit that area (`image_sides`; thumbnails never below
`MIN_THUMB_SIDE`), so a page of 100 queries with 9 neighbours each is about 4 MB.

One module per page, importable from here as before: `similar_page`, `verify_page`,
`evaluation_page`, and `page_parts` for what they share (image sides, painting figures, writing
the page).
"""

from __future__ import annotations

from painter_match.evaluation.evaluation_page import (
    LARGE_ECE,
    PairExample,
    confident_mistakes,
    evaluation_report,
)
from painter_match.evaluation.page_parts import FULL_SIZE_IMAGES, MIN_THUMB_SIDE, image_sides
from painter_match.evaluation.similar_page import SimilarQuery, similar_report
from painter_match.evaluation.verify_page import verify_report

# The neighbours' own types, which a `SimilarQuery` holds, importable from here as they always were.
from painter_match.inference.neighbours import ArtistVote, Neighbour

__all__ = [
    "FULL_SIZE_IMAGES",
    "LARGE_ECE",
    "MIN_THUMB_SIDE",
    "ArtistVote",
    "Neighbour",
    "PairExample",
    "SimilarQuery",
    "confident_mistakes",
    "evaluation_report",
    "image_sides",
    "similar_report",
    "verify_report",
]
