"""The ``evaluate`` page (`evaluation_report`): ROC curves, score histograms, a reliability diagram
with the ``--prior`` advice, per-artist AUC and the most confident mistakes (`confident_mistakes`,
shown as `PairExample`s)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from painter_match.evaluation.page_parts import (
    _EMPTY,
    _artist_line,
    _image,
    _plural,
    _write_page,
    image_sides,
)
from painter_match.evaluation.render import Markup, join, render
from painter_match.evaluation.svg_plots import (
    expected_calibration_error,
    histogram_svg,
    reliability_bins,
    reliability_svg,
    roc_svg,
)
from painter_match.evaluation.thumbnails import THUMB_SIDE, ThumbnailCache
from painter_match.metrics import confusion_at, roc_auc, roc_curve

# An expected calibration error from which the evaluate page says why (a share of same-artist pairs
# unlike the one the model was calibrated on is the usual cause) and what to do (--prior).
LARGE_ECE = 0.1


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
