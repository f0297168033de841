"""Self-contained HTML pages for people who would rather look: `similar_report`, `verify_report`
and `evaluation_report`.

Each takes plain data (the dataclasses below, numbers, arrays) that a command has already
computed, and writes one HTML file atomically: paintings inlined as small JPEGs (`thumbnails`),
plots as inline SVG (`svg_plots`), markup from the one template (`render`), no script and no URL,
so the page reads offline and prints. numpy and Pillow only: the inference-only install writes
them. A painting that cannot be decoded shows as a box with the cause; it never stops a report.

Size: a thumbnail is about 7 kB once inlined (160 px, measured on WikiArt reproductions), a
400 px query image about 40 kB. Once a page's images would cover more than `FULL_SIZE_IMAGES`
full-size thumbnails, every image shrinks to fit that area (`image_sides`; thumbnails never below
`MIN_THUMB_SIDE`), so a page of 100 queries with 9 neighbours each is about 4 MB.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from painter_match._version import __version__
from painter_match.atomic import write_bytes
from painter_match.data.painting_finder import FoundPainting
from painter_match.evaluation.render import Markup, join, render
from painter_match.evaluation.svg_plots import (
    bars_svg,
    calibration_svg,
    expected_calibration_error,
    histogram_svg,
    reliability_bins,
    reliability_svg,
    roc_svg,
)
from painter_match.evaluation.thumbnails import QUERY_SIDE, THUMB_SIDE, Thumbnail, ThumbnailCache
from painter_match.inference.neighbours import ArtistVote, Neighbour
from painter_match.metrics import confusion_at, roc_auc, roc_curve

FULL_SIZE_IMAGES = 400
MIN_THUMB_SIDE = 96
# An expected calibration error from which the evaluate page says why (a share of same-artist pairs
# unlike the one the model was calibrated on is the usual cause) and what to do (--prior).
LARGE_ECE = 0.1
_EMPTY = Markup("")


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


@dataclass(frozen=True)
class PairExample:
    """A scored pair shown as two thumbnails (the evaluation's mistakes)."""

    first: Path
    second: Path
    same_artist: bool
    similarity: float
    first_artist: str | None = None
    second_artist: str | None = None
    first_name: str | None = None
    second_name: str | None = None


def image_sides(
    thumbnails: int, large: int = 0, thumb_side: int = THUMB_SIDE, large_side: int = QUERY_SIDE
) -> tuple[int, int]:
    """The thumbnail and large-image sides for a page of so many thumbnails and large images.

    Full size while their area is at most that of `FULL_SIZE_IMAGES` thumbnails of `THUMB_SIDE`;
    beyond, both sides shrink by one factor so that the area stays there, but thumbnails not below
    `MIN_THUMB_SIDE` nor large images below twice that.
    """
    area = thumbnails * thumb_side**2 + large * large_side**2
    budget = FULL_SIZE_IMAGES * THUMB_SIDE**2
    factor = min(1.0, math.sqrt(budget / area)) if area > 0 else 1.0
    thumb = min(thumb_side, max(MIN_THUMB_SIDE, round(thumb_side * factor)))
    large_shown = min(large_side, max(2 * MIN_THUMB_SIDE, round(large_side * factor)))
    return thumb, large_shown


def confident_mistakes(
    labels: ArrayLike, scores: ArrayLike, n: int = 8, *, threshold: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The pairs the model got most confidently wrong, for `PairExample`.

    Args:
        labels: 1 where the pair shares an artist.
        scores: the model's similarity per pair.
        n: the most pairs of each kind.
        threshold: when given, only pairs on the wrong side of it (different-artist pairs scored at
            or above it, same-artist pairs below it).

    Returns:
        ``(different-artist pairs, highest score first; same-artist pairs, lowest score first)``
        as row indices.
    """
    y = np.asarray(labels).astype(bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"labels and scores differ in length: {y.size} vs {s.size}")
    different, same = np.flatnonzero(~y), np.flatnonzero(y)
    if threshold is not None:
        different, same = different[s[different] >= threshold], same[s[same] < threshold]
    different = different[np.argsort(-s[different], kind="stable")[:n]]
    same = same[np.argsort(s[same], kind="stable")[:n]]
    return different, same


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


def verify_report(
    a: str | Path,
    b: str | Path,
    similarity: float,
    probability: float,
    threshold: float,
    calibration: tuple[float, float],
    out_path: str | Path,
    *,
    names: tuple[str, str] | None = None,
    title: str = "Same artist?",
    image_side: int = QUERY_SIDE,
    same: bool | None = None,
    paintings: Sequence[FoundPainting | None] | None = None,
) -> Path:
    """Two paintings side by side, P(same artist), the verdict, and the pair's place on the
    calibration curve; with ``paintings``, the outline the painting finder embedded drawn on each
    photograph (or "whole image" and why under it).

    Args:
        a, b: the two image files.
        similarity: their cosine similarity.
        probability: the calibrated P(same artist).
        threshold: the similarity at or above which the verdict is "same artist".
        calibration: ``(slope, intercept)`` of P = sigmoid(slope * similarity + intercept).
        out_path: the HTML file to write (replaced atomically).
        names: what the page calls the two paintings; by default their paths as given.
        title: the page's heading.
        image_side: the longest side of each painting, in pixels.
        same: the verdict as the caller decided it (`painter_match.SameArtist`: from the
            probability, which a reference may give); None: ``similarity >= threshold``.
        paintings: what the painting finder did to ``a`` and ``b`` (`SameArtist.paintings`;
            None in it: not looked at); None: nothing is said about it.

    Returns:
        ``out_path`` as a Path.

    Raises:
        ValueError: ``probability`` outside [0, 1] or a number that is not finite.
    """
    slope, intercept = (float(value) for value in calibration)
    for what, value in (("similarity", similarity), ("threshold", threshold), ("slope", slope)):
        if not math.isfinite(value):
            raise ValueError(f"{what} must be a finite number, got {value}")
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"probability must be within [0, 1], got {probability}")
    first_name, second_name = names if names is not None else (str(a), str(b))
    # One entry per painting to say what the finder did; none at all says nothing.
    found: list[FoundPainting | None | _Unsaid] = list(paintings) if paintings is not None else [_UNSAID] * 2
    if len(found) != 2:
        raise ValueError(f"paintings must hold the two paintings' records, got {len(found)}")
    cache = ThumbnailCache()
    if same is None:
        same = similarity >= threshold
    sign = "+" if intercept >= 0 else "−"
    curve = calibration_svg(slope, intercept, similarity, threshold)
    body = render(
        "verify",
        verdict_class="same" if same else "different",
        verdict="Same artist" if same else "Different artists",
        probability=f"{probability:.3f}",
        probability_exact=f"{probability:.6f}",
        similarity=f"{similarity:.4f}",
        similarity_exact=f"{similarity:.6f}",
        threshold=f"{threshold:.4f}",
        threshold_exact=f"{threshold:.6f}",
        # For readers who want it; the page leads with words an art historian would use.
        formula=f"sigmoid({slope:.4g} × similarity {sign} {abs(intercept):.4g})",
        first=_painting(Path(a), first_name, None, cache, image_side, found[0]),
        second=_painting(Path(b), second_name, None, cache, image_side, found[1]),
        curve=render(
            "plot",
            id="calibration",
            svg=curve,
            caption=f"How likely the same artist is (up) for each degree of likeness to the model "
            f"(across, from -1, nothing alike, to 1, identical); this pair ({similarity:.4f}) is marked, "
            f"and pairs on the shaded side of {threshold:.4f} are called the same artist.",
        ),
    )
    return _write_page(out_path, title, f"{first_name} and {second_name}", body)


def evaluation_report(
    labels: ArrayLike,
    scores: ArrayLike,
    out_path: str | Path,
    *,
    baselines: Mapping[str, tuple[ArrayLike, ArrayLike]] | None = None,
    calibration: tuple[float, float] | None = None,
    threshold: float | None = None,
    per_artist_auc: Mapping[str, float | None] | None = None,
    mistakes: Sequence[PairExample] = (),
    artist_subsets: Mapping[str, tuple[float | None, int]] | None = None,
    calibration_check: Mapping[str, Any] | None = None,
    title: str = "Evaluation",
    subtitle: str | None = None,
    model_name: str = "model",
    thumb_side: int = THUMB_SIDE,
) -> Path:
    """ROC curves, score histograms, a reliability diagram, per-artist AUC and the most confident
    mistakes, on one page.

    Args:
        labels: 1 where a pair shares an artist, else 0.
        scores: the model's similarity per pair.
        out_path: the HTML file to write (replaced atomically).
        baselines: ``name -> (labels, scores)`` of other scorers, drawn on the ROC plot.
        calibration: ``(slope, intercept)``; gives the reliability diagram and mistakes' P(same).
        threshold: the similarity at or above which the model says "same artist".
        per_artist_auc: ``artist -> AUC`` (None where it cannot be computed); shown worst first.
        mistakes: pairs to show, e.g. chosen with `confident_mistakes`; sorted on the page.
        artist_subsets: ``name -> (AUC or None, pairs)`` of subsets, e.g. pairs of artists seen
            and unseen in training (as ``evaluate`` prints them); a name with no pairs and no AUC
            carries its reason in the name's place of the value (see `evaluate`).
        calibration_check: `painter_match.evaluation.evaluate.calibration_check`'s result: the
            ``--prior`` advice the terminal prints (the share the probabilities assume, these
            pairs' share, and the figures once moved to it).
        title: the page's heading.
        subtitle: the line under it; by default the number of pairs.
        model_name: the model's name in the legend and the summary.
        thumb_side: the longest side of the thumbnails, in pixels.

    Returns:
        ``out_path`` as a Path.

    Raises:
        ValueError: labels and scores differ in length, hold only one kind of pair or a score that
            is not finite (a baseline's message names it).
    """
    y = np.asarray(labels).astype(bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    auc = roc_auc(y, s)
    fpr, tpr, _ = roc_curve(y, s)
    positives = int(y.sum())
    facts: list[tuple[str, str]] = [
        ("pairs", f"{y.size:,}"),
        ("same-artist pairs", f"{positives:,} ({positives / y.size:.1%})"),
        (f"ROC AUC, {model_name}", f"{auc:.4f}"),
    ]
    curves: list[tuple[str, ArrayLike, ArrayLike]] = [(f"{model_name} (AUC {auc:.4f})", fpr, tpr)]
    for name, (baseline_labels, baseline_scores) in (baselines or {}).items():
        try:
            baseline_auc = roc_auc(baseline_labels, baseline_scores)
            baseline_fpr, baseline_tpr, _ = roc_curve(baseline_labels, baseline_scores)
        except ValueError as error:
            raise ValueError(f"baseline {name!r}: {error}") from None
        curves.append((f"{name} (AUC {baseline_auc:.4f})", baseline_fpr, baseline_tpr))
        facts.append((f"ROC AUC, {name}", f"{baseline_auc:.4f}"))
    for name, (subset_auc, subset_pairs) in (artist_subsets or {}).items():
        shown = f"{subset_auc:.4f}" if subset_auc is not None else "n/a"
        facts.append((f"ROC AUC, {name}", f"{shown} ({subset_pairs:,} pairs)"))
    if threshold is not None:
        counts = confusion_at(y, s, threshold)
        accuracy = (counts["true_same"] + counts["true_different"]) / y.size
        facts.append((f"accuracy at threshold {threshold:.4f}", f"{accuracy:.1%}"))

    if calibration is not None:
        slope, intercept = calibration
        probability = 0.5 * (1.0 + np.tanh(0.5 * (slope * s + intercept)))
        predicted, observed, counts_per_bin = reliability_bins(probability, y)
        ece = expected_calibration_error(predicted, observed, counts_per_bin)
        facts.append(("expected calibration error", f"{ece:.4f}"))
        reliability = join(
            [
                render(
                    "plot",
                    id="reliability",
                    svg=reliability_svg(predicted, observed, counts_per_bin, model_name),
                    caption="Pairs binned by predicted P(same artist); a calibrated model follows the "
                    f"diagonal. Expected calibration error (ECE) {ece:.4f}: the mean gap between the "
                    "predicted and the observed share of same-artist pairs.",
                ),
                _calibration_advice(ece, positives / y.size, calibration_check),
            ]
        )
    else:
        reliability = render("empty", text="No calibration given, so no reliability diagram.")

    cache = ThumbnailCache()
    thumb, _ = image_sides(2 * len(mistakes), 0, thumb_side)
    wrong_same = sorted((m for m in mistakes if not m.same_artist), key=lambda m: -m.similarity)
    wrong_different = sorted((m for m in mistakes if m.same_artist), key=lambda m: m.similarity)
    body = render(
        "evaluation",
        facts=join([render("fact", name=name, value=value) for name, value in facts]),
        roc=render(
            "plot",
            id="roc",
            svg=roc_svg(curves),
            caption=f"ROC curve of {model_name}"
            + (" and the baselines" if baselines else "")
            + "; AUC in the legend.",
        ),
        histogram=render(
            "plot",
            id="histogram",
            svg=histogram_svg(s[y], s[~y], threshold),
            caption="Similarity of same-artist and different-artist pairs, each as a share of its own pairs"
            + (", with the decision threshold." if threshold is not None else "."),
        ),
        reliability=reliability,
        artists=_artist_table(per_artist_auc),
        side=thumb,
        false_same=_mistakes(wrong_same, cache, thumb, calibration, "No different-artist pair to show."),
        false_different=_mistakes(wrong_different, cache, thumb, calibration, "No same-artist pair to show."),
    )
    if subtitle is None:
        subtitle = f"{y.size:,} pairs scored by {model_name}"
    return _write_page(out_path, title, subtitle, body)


def _calibration_advice(ece: float, share: float, check: Mapping[str, Any] | None) -> Markup:
    """Why the ECE is what it is and the ``--prior`` figures, as ``evaluate`` prints them."""
    notes = []
    fitted = check.get("fitted_share") if check is not None else None
    assumed = f"{fitted:.1%}" if isinstance(fitted, (int, float)) else "the share it was calibrated on"
    if ece >= LARGE_ECE:
        notes.append(
            f"The ECE is large ({ece:.2f}) because the probabilities assume that {assumed} of the pairs "
            f"share an artist, while {share:.1%} of these pairs do: each P(same) is too high (or too low) "
            f"by that share, not because the ranking is poor (see the ROC AUC). Give --prior {share:.4g} "
            "to verify, score or similar to move their probabilities to this share."
        )
    moved = check.get("moved") if check is not None else None
    if check is not None and isinstance(moved, Mapping):
        notes.append(
            f"Mean P(same) {check['mean_probability']:.4f} for a same-artist share of "
            f"{check['pairs_share']:.4f}, log-loss {check['log_loss']:.4f}. "
            f"With --prior {moved['prior']:.4g}: mean P(same) {moved['mean_probability']:.4f}, log-loss "
            f"{moved['log_loss']:.4f}, accuracy {moved['accuracy']:.4f} at threshold {moved['threshold']:.4f}."
        )
    return join([render("note", text=text) for text in notes]) if notes else _EMPTY


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


def _image(thumbnail: Thumbnail, alt: str) -> Markup:
    if thumbnail.src is None:
        return render(
            "placeholder", alt=alt, cause=thumbnail.error, width=thumbnail.width, height=thumbnail.height
        )
    return render("image", src=thumbnail.src, width=thumbnail.width, height=thumbnail.height, alt=alt)


def _artist_line(artist: str | None) -> Markup:
    return render("artist", artist=artist) if artist is not None else _EMPTY


class _Unsaid:
    """Nothing to say about the painting finder (a page drawn without its records)."""


_UNSAID = _Unsaid()


def _painting(
    path: Path,
    name: str,
    artist: str | None,
    cache: ThumbnailCache,
    side: int,
    found: FoundPainting | None | _Unsaid = _UNSAID,
) -> Markup:
    thumbnail = cache.get(path, side)
    image = _image(thumbnail, name)
    note = _EMPTY
    if not isinstance(found, _Unsaid):
        image, note = _found(image, thumbnail, found)
    return render(
        "painting", path=str(path), image=image, name=name, artist=_artist_line(artist), finder=note
    )


def _found(image: Markup, thumbnail: Thumbnail, found: FoundPainting | None) -> tuple[Markup, Markup]:
    """The image with the quadrilateral embedded drawn over it, and the note under it: "painting
    found, ..." or "whole image (reason)"."""
    if found is None:
        return image, render(
            "finder_note", state="whole", cropped="false", text="whole image (painting finder off)"
        )
    if found.quad is None:
        return image, render(
            "finder_note", state="whole", cropped="false", text=f"whole image ({found.reason})"
        )
    text = f"painting found ({found.reason}): the outline drawn was embedded, straightened"
    note = render("finder_note", state="cropped", cropped="true", text=text)
    width, height = found.image_size
    if thumbnail.src is None or width <= 0 or height <= 0:
        return image, note  # no picture to draw on, or a record without the image's size
    # The quadrilateral is in the original image's pixels (after EXIF orientation), the thumbnail
    # is that image shrunk: one scale per axis (they differ by the rounding of the thumbnail's sides).
    sx, sy = thumbnail.width / width, thumbnail.height / height
    points = " ".join(f"{x * sx:.1f},{y * sy:.1f}" for x, y in found.quad)
    outlined = render(
        "outlined",
        image=image,
        width=thumbnail.width,
        height=thumbnail.height,
        points=points,
        label="the outline of the painting found, which was embedded",
    )
    return outlined, note


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


def _artist_table(per_artist_auc: Mapping[str, float | None] | None) -> Markup:
    if not per_artist_auc:
        return render("empty", text="No per-artist AUC given.")
    # Worst first; artists without an AUC (one kind of pair only) last, by name.
    ordered = sorted(
        per_artist_auc.items(),
        key=lambda item: (item[1] is None, item[1] if item[1] is not None else 0, item[0]),
    )
    rows = [
        render(
            "artist_row",
            artist=artist,
            auc=f"{auc:.4f}" if auc is not None else "n/a",
            bar=round(120 * auc) if auc is not None else 0,
        )
        for artist, auc in ordered
    ]
    table = render("artist_table", rows=join(rows))
    missing = sum(1 for auc in per_artist_auc.values() if auc is None)
    if not missing:
        return table
    # An AUC ranks same-artist pairs against different-artist ones: with one kind only there is none.
    note = (
        f"n/a ({missing} {_plural(missing, 'artist', 'artists')}, listed last): no AUC can be computed "
        "for an artist whose pairs are all of one kind: an artist with a single painting has no "
        "same-artist pair, and one whose paintings were only paired with each other has no "
        "different-artist pair. More paintings per artist (--max-per-artist) or other pairs fill them in."
    )
    return join([table, render("note", text=note)])


def _mistakes(
    pairs: list[PairExample],
    cache: ThumbnailCache,
    side: int,
    calibration: tuple[float, float] | None,
    none_text: str,
) -> Markup:
    if not pairs:
        return render("empty", text=none_text)
    shown = []
    for pair in pairs:
        first_name = pair.first_name if pair.first_name is not None else pair.first.name
        second_name = pair.second_name if pair.second_name is not None else pair.second.name
        probability = _EMPTY
        if calibration is not None:
            slope, intercept = calibration
            p = 0.5 * (1.0 + math.tanh(0.5 * (slope * pair.similarity + intercept)))
            probability = render("mistake_probability", probability=f"{p:.3f}")
        shown.append(
            render(
                "mistake",
                similarity=f"{pair.similarity:.4f}",
                similarity_exact=f"{pair.similarity:.6f}",
                same="true" if pair.same_artist else "false",
                probability=probability,
                first=_image(cache.get(pair.first, side), first_name),
                second=_image(cache.get(pair.second, side), second_name),
                first_name=first_name,
                second_name=second_name,
                first_artist=_artist_line(pair.first_artist),
                second_artist=_artist_line(pair.second_artist),
            )
        )
    return join(shown)


def _write_page(out_path: str | Path, title: str, subtitle: str, body: Markup) -> Path:
    page = render("page", title=title, subtitle=subtitle, body=body, version=__version__)
    return write_bytes(out_path, page.encode("utf-8"))
