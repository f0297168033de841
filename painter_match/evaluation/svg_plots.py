"""The reports' plots, written as inline SVG with numpy alone.

Plain SVG rather than matplotlib so that the inference-only install (no torch, no matplotlib) can
draw them, and the page stays one file that prints sharply. Each function returns `Markup`: one
``<svg>`` element with a ``viewBox`` (it scales with the page), a ``<title>`` for screen readers,
and every label escaped. No ``xmlns`` attribute: HTML needs none for inline SVG, and the pages
carry no URL of any kind. Colours are the Okabe-Ito palette, told apart by colour-blind readers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from painter_match.evaluation.render import Markup, escape

PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#d55e00", "#56b4e9", "#000000")
SAME_COLOUR, DIFFERENT_COLOUR = PALETTE[0], PALETTE[1]
_GRID, _AXIS, _MUTED = "#e5e7eb", "#59636e", "#8c959f"
_FONT = 'font-family="system-ui, sans-serif" font-size="12" fill="#1f2328"'
# Characters of a bar's label per line: about what fits left of the bars at 12 px.
BAR_LABEL_CHARACTERS = 26


def _n(value: float) -> str:
    """A coordinate, short."""
    return f"{value:.1f}"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) covering ``[low, high]``."""
    if not high > low:
        return [low]
    raw = (high - low) / max(count, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


@dataclass(frozen=True)
class _Frame:
    """Data ranges mapped onto an SVG canvas with room for the axes."""

    x_range: tuple[float, float]
    y_range: tuple[float, float]
    width: int = 560
    height: int = 380
    left: int = 58
    right: int = 16
    top: int = 16
    bottom: int = 50

    def x(self, value: float | np.ndarray) -> float | np.ndarray:
        low, high = self.x_range
        return self.left + (value - low) / (high - low) * (self.width - self.left - self.right)

    def y(self, value: float | np.ndarray) -> float | np.ndarray:
        low, high = self.y_range
        return (
            self.height - self.bottom - (value - low) / (high - low) * (self.height - self.top - self.bottom)
        )

    def open(self, title: str) -> list[str]:
        return [
            f'<svg viewBox="0 0 {self.width} {self.height}" width="{self.width}" height="{self.height}" '
            f'role="img" {_FONT}>',
            f"<title>{escape(title)}</title>",
            f'<rect x="0" y="0" width="{self.width}" height="{self.height}" fill="#ffffff"/>',
        ]

    def axes(
        self,
        x_label: str,
        y_label: str,
        x_ticks: Sequence[float],
        y_ticks: Sequence[float],
        x_format: str = "{:g}",
        y_format: str = "{:g}",
    ) -> list[str]:
        """Grid lines, tick labels, the plot's border and the two axis labels."""
        x0, x1 = self.left, self.width - self.right
        y0, y1 = self.height - self.bottom, self.top
        parts = []
        for tick in x_ticks:
            x = _n(float(self.x(tick)))
            parts.append(f'<line x1="{x}" y1="{y0}" x2="{x}" y2="{y1}" stroke="{_GRID}"/>')
            parts.append(f'<text x="{x}" y="{y0 + 16}" text-anchor="middle">{x_format.format(tick)}</text>')
        for tick in y_ticks:
            y = _n(float(self.y(tick)))
            parts.append(f'<line x1="{x0}" y1="{y}" x2="{x1}" y2="{y}" stroke="{_GRID}"/>')
            parts.append(
                f'<text x="{x0 - 6}" y="{y}" dy="4" text-anchor="end">{y_format.format(tick)}</text>'
            )
        parts.append(
            f'<rect x="{x0}" y="{y1}" width="{x1 - x0}" height="{y0 - y1}" fill="none" stroke="{_AXIS}"/>'
        )
        parts.append(
            f'<text x="{(x0 + x1) / 2:.1f}" y="{self.height - 10}" text-anchor="middle">{escape(x_label)}</text>'
        )
        middle = (y0 + y1) / 2
        parts.append(
            f'<text x="14" y="{middle:.1f}" text-anchor="middle" transform="rotate(-90 14 {middle:.1f})">'
            f"{escape(y_label)}</text>"
        )
        return parts

    def legend(self, entries: Sequence[tuple[str, str, str]], corner: str = "bottom-right") -> list[str]:
        """A boxed legend in a corner of the plot; entries are (label, colour, dash array or "")."""
        if not entries:
            return []
        longest = max(len(label) for label, _, _ in entries)
        box_width = 36 + 6.6 * longest
        box_height = 8 + 18 * len(entries)
        x = self.width - self.right - box_width - 8 if corner.endswith("right") else self.left + 8
        y = self.height - self.bottom - box_height - 8 if corner.startswith("bottom") else self.top + 8
        parts = [
            f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(box_width)}" height="{box_height}" fill="#ffffff" '
            f'fill-opacity="0.92" stroke="{_GRID}"/>'
        ]
        for i, (label, colour, dash) in enumerate(entries):
            line_y = y + 13 + 18 * i
            dashing = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(
                f'<line x1="{_n(x + 8)}" y1="{_n(line_y)}" x2="{_n(x + 28)}" y2="{_n(line_y)}" '
                f'stroke="{colour}" stroke-width="2.5"{dashing}/>'
            )
            parts.append(f'<text x="{_n(x + 34)}" y="{_n(line_y)}" dy="4">{escape(label)}</text>')
        return parts


def _polyline(xs: np.ndarray, ys: np.ndarray, colour: str, width: float = 2.0, dash: str = "") -> str:
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs.tolist(), ys.tolist()))
    dashing = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="{width}" '
        f'stroke-linejoin="round"{dashing}/>'
    )


def _thin(xs: ArrayLike, ys: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Canvas points rounded to half a pixel, runs of equal points dropped.

    A ROC curve of millions of pairs has millions of steps; a monotone curve keeps at most a few
    thousand distinct half-pixel points, and the drawing looks the same.
    """
    x, y = np.round(np.asarray(xs) * 2) / 2, np.round(np.asarray(ys) * 2) / 2
    if x.size < 2:
        return x, y
    keep = np.r_[True, (np.diff(x) != 0) | (np.diff(y) != 0)]
    return x[keep], y[keep]


def roc_svg(curves: Sequence[tuple[str, ArrayLike, ArrayLike]], title: str = "ROC curve") -> Markup:
    """ROC curves, the first one (the model) drawn thickest, with the chance diagonal.

    Args:
        curves: ``(legend label, false positive rates, true positive rates)`` per curve; the
            label should carry the AUC.
        title: what a screen reader announces.
    """
    frame = _Frame((0.0, 1.0), (0.0, 1.0))
    ticks = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    parts = frame.open(title)
    parts += frame.axes(
        "false positive rate (different artists called same)", "true positive rate", ticks, ticks
    )
    parts.append(
        _polyline(np.array([frame.x(0), frame.x(1)]), np.array([frame.y(0), frame.y(1)]), _MUTED, 1, "4 4")
    )
    entries = []
    # The model last, so that it is drawn above the baselines.
    for i in reversed(range(len(curves))):
        _, fpr, tpr = curves[i]
        colour = PALETTE[i % len(PALETTE)]
        xs, ys = _thin(frame.x(np.asarray(fpr, dtype=np.float64)), frame.y(np.asarray(tpr, dtype=np.float64)))
        parts.append(_polyline(xs, ys, colour, 3.0 if i == 0 else 1.8))
    for i, (label, _, _) in enumerate(curves):
        entries.append((label, PALETTE[i % len(PALETTE)], ""))
    entries.append(("chance", _MUTED, "4 4"))
    parts += frame.legend(entries, "bottom-right")
    parts.append("</svg>")
    return Markup("\n".join(parts))


def histogram_svg(
    same: ArrayLike,
    different: ArrayLike,
    threshold: float | None = None,
    bins: int = 40,
    title: str = "Similarity of same-artist and different-artist pairs",
) -> Markup:
    """Overlaid histograms of the scores of same-artist and different-artist pairs.

    Each is drawn as the share of its own pairs per bin, as there are usually far more
    different-artist pairs than same-artist ones.
    """
    same_scores = np.asarray(same, dtype=np.float64).ravel()
    different_scores = np.asarray(different, dtype=np.float64).ravel()
    both = np.concatenate([same_scores, different_scores])
    low, high = (float(both.min()), float(both.max())) if both.size else (-1.0, 1.0)
    if threshold is not None:
        low, high = min(low, threshold), max(high, threshold)
    if high - low < 1e-9:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, bins + 1)
    shares = []
    for scores in (same_scores, different_scores):
        counts, _ = np.histogram(scores, bins=edges)
        shares.append(counts / max(scores.size, 1))
    # Head room above the tallest bar for the legend, so that it hides no bar.
    top = max(float(max(s.max() for s in shares)), 1e-9) * 1.4
    frame = _Frame((low, high), (0.0, top), top=30)
    parts = frame.open(title)
    parts += frame.axes(
        "cosine similarity",
        "share of the pairs of each kind",
        nice_ticks(low, high, 6),
        nice_ticks(0.0, top, 5),
        y_format="{:.0%}" if top >= 0.05 else "{:.1%}",
    )
    entries = []
    for share, scores, colour, label in (
        (shares[1], different_scores, DIFFERENT_COLOUR, "different artists"),
        (shares[0], same_scores, SAME_COLOUR, "same artist"),
    ):
        if scores.size == 0:
            continue
        xs = np.repeat(np.asarray(frame.x(edges)), 2)[1:-1]
        ys = np.repeat(np.asarray(frame.y(share)), 2)
        base = float(frame.y(0.0))
        outline = np.r_[float(frame.x(edges[0])), xs, float(frame.x(edges[-1]))]
        heights = np.r_[base, ys, base]
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(outline.tolist(), heights.tolist()))
        parts.append(
            f'<polygon points="{points}" fill="{colour}" fill-opacity="0.28" stroke="{colour}" stroke-width="1.6"/>'
        )
        entries.append((f"{label} ({scores.size:,} pairs)", colour, ""))
    if threshold is not None:
        x = _n(float(frame.x(threshold)))
        parts.append(
            f'<line x1="{x}" y1="{frame.top}" x2="{x}" y2="{frame.height - frame.bottom}" stroke="#1f2328" '
            f'stroke-dasharray="5 3"/>'
        )
        parts.append(
            f'<text x="{x}" y="{frame.top - 8}" text-anchor="middle">threshold {threshold:.4f}</text>'
        )
    parts += frame.legend(list(reversed(entries)), "top-left")
    parts.append("</svg>")
    return Markup("\n".join(parts))


def reliability_bins(
    probabilities: ArrayLike, labels: ArrayLike, bins: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs grouped by predicted probability into ``bins`` equal-width bins over [0, 1].

    Returns:
        ``(mean predicted probability, observed same-artist rate, number of pairs)`` per bin;
        empty bins have NaN rates and a count of 0.
    """
    p = np.clip(np.asarray(probabilities, dtype=np.float64).ravel(), 0.0, 1.0)
    y = np.asarray(labels).astype(bool).ravel()
    if p.shape != y.shape:
        raise ValueError(f"probabilities and labels differ in length: {p.size} vs {y.size}")
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    counts = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        predicted = np.bincount(which, weights=p, minlength=bins) / counts
        observed = np.bincount(which, weights=y.astype(np.float64), minlength=bins) / counts
    return predicted, observed, counts


def expected_calibration_error(predicted: np.ndarray, observed: np.ndarray, counts: np.ndarray) -> float:
    """The pair-weighted mean gap between predicted and observed rates (from `reliability_bins`)."""
    filled = counts > 0
    if not filled.any():
        return float("nan")
    gaps = np.abs(predicted[filled] - observed[filled])
    return float((gaps * counts[filled]).sum() / counts[filled].sum())


def reliability_svg(
    predicted: np.ndarray,
    observed: np.ndarray,
    counts: np.ndarray,
    label: str = "model",
    title: str = "Reliability diagram",
) -> Markup:
    """Observed same-artist rate against predicted probability, per bin (from `reliability_bins`).

    Grey bars along the bottom show where the predictions fall (share of pairs per bin).
    """
    frame = _Frame((0.0, 1.0), (0.0, 1.0))
    ticks = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    parts = frame.open(title)
    parts += frame.axes("predicted P(same artist)", "observed same-artist rate", ticks, ticks)
    bins = counts.size
    total = max(int(counts.sum()), 1)
    bar_width = float(frame.x(1.0 / bins)) - float(frame.x(0.0))
    for i, count in enumerate(counts.tolist()):
        if count == 0:
            continue
        height = 0.25 * count / total
        y = float(frame.y(height))
        parts.append(
            f'<rect x="{_n(float(frame.x(i / bins)) + 1)}" y="{_n(y)}" width="{_n(bar_width - 2)}" '
            f'height="{_n(float(frame.y(0.0)) - y)}" fill="{_MUTED}" fill-opacity="0.35">'
            f"<title>{count:,} pairs</title></rect>"
        )
    parts.append(
        _polyline(np.array([frame.x(0), frame.x(1)]), np.array([frame.y(0), frame.y(1)]), _MUTED, 1, "4 4")
    )
    filled = counts > 0
    xs, ys = np.asarray(frame.x(predicted[filled])), np.asarray(frame.y(observed[filled]))
    if xs.size:
        parts.append(_polyline(xs, ys, SAME_COLOUR, 2.2))
    for x, y, p, o, c in zip(
        xs.tolist(),
        ys.tolist(),
        predicted[filled].tolist(),
        observed[filled].tolist(),
        counts[filled].tolist(),
    ):
        parts.append(
            f'<circle cx="{_n(x)}" cy="{_n(y)}" r="4.5" fill="{SAME_COLOUR}" stroke="#ffffff">'
            f"<title>predicted {p:.3f}, observed {o:.3f}, {c:,} pairs</title></circle>"
        )
    parts += frame.legend(
        [(label, SAME_COLOUR, ""), ("perfect calibration", _MUTED, "4 4"), ("share of pairs", "#c4c9cf", "")],
        "top-left",
    )
    parts.append("</svg>")
    return Markup("\n".join(parts))


def calibration_svg(
    slope: float,
    intercept: float,
    similarity: float,
    threshold: float | None = None,
    title: str = "Calibration curve",
) -> Markup:
    """P(same artist) = sigmoid(slope * s + intercept) over s in [-1, 1], with one pair marked.

    The pair's and the threshold's labels stand in a band above the plot, one line each, so that
    neither can cover the curve, the marker or each other wherever the pair and the threshold fall.
    """
    band = 44  # two lines of 12 px text above the plot
    frame = _Frame((-1.0, 1.0), (0.0, 1.0), top=16 + band)
    parts = frame.open(title)
    if threshold is not None and -1.0 <= threshold <= 1.0:
        x_threshold = float(frame.x(threshold))
        right = frame.width - frame.right
        parts.append(
            f'<rect x="{_n(x_threshold)}" y="{frame.top}" width="{_n(right - x_threshold)}" '
            f'height="{frame.height - frame.top - frame.bottom}" fill="#ecfdf3"/>'
        )
    parts += frame.axes(
        "how alike the two paintings look to the model",
        "P(same artist)",
        nice_ticks(-1.0, 1.0, 8),
        [0.0, 0.25, 0.5, 0.75, 1.0],
    )
    s = np.linspace(-1.0, 1.0, 201)
    p = 0.5 * (1.0 + np.tanh(0.5 * (slope * s + intercept)))  # a sigmoid that never overflows
    parts.append(_polyline(np.asarray(frame.x(s)), np.asarray(frame.y(p)), SAME_COLOUR, 2.5))
    if threshold is not None and -1.0 <= threshold <= 1.0:
        x = _n(float(frame.x(threshold)))
        parts.append(
            f'<line x1="{x}" y1="{frame.top}" x2="{x}" y2="{frame.height - frame.bottom}" stroke="#067647" '
            f'stroke-dasharray="5 3"/>'
        )
        # In the band above the plot, keyed by a piece of the dashed line.
        parts.append(
            f'<line x1="{frame.left}" y1="34" x2="{frame.left + 18}" y2="34" stroke="#067647" '
            f'stroke-dasharray="5 3"/>'
            f'<text x="{frame.left + 24}" y="38" class="label" fill="#067647">same artist from '
            f"{threshold:.4f} (shaded)</text>"
        )
    marked = min(max(similarity, -1.0), 1.0)
    probability = float(0.5 * (1.0 + np.tanh(0.5 * (slope * marked + intercept))))
    mx, my = float(frame.x(marked)), float(frame.y(probability))
    parts.append(
        f'<line x1="{_n(mx)}" y1="{_n(my)}" x2="{_n(mx)}" y2="{frame.height - frame.bottom}" '
        f'stroke="{DIFFERENT_COLOUR}" stroke-dasharray="3 3"/>'
    )
    parts.append(
        f'<line x1="{frame.left}" y1="{_n(my)}" x2="{_n(mx)}" y2="{_n(my)}" stroke="{DIFFERENT_COLOUR}" '
        f'stroke-dasharray="3 3"/>'
    )
    parts.append(f'<circle cx="{_n(mx)}" cy="{_n(my)}" r="7" fill="{DIFFERENT_COLOUR}" stroke="#1f2328"/>')
    parts.append(
        # A glyph, not a circle: the plot's one circle is the pair's marker.
        f'<text x="{frame.left + 3}" y="19" font-size="16" fill="{DIFFERENT_COLOUR}">●</text>'
        f'<text x="{frame.left + 24}" y="18" class="label" font-weight="600">'
        f"this pair: likeness {similarity:.4f}, P(same artist) {probability:.3f}</text>"
    )
    parts.append("</svg>")
    return Markup("\n".join(parts))


def bars_svg(items: Sequence[tuple[str, float]], title: str = "Artist vote", most: int = 10) -> Markup:
    """Horizontal bars of shares in [0, 1], largest first as given; past ``most`` they are summed.

    Long labels wrap onto more lines (a taller row), so that the full name shows, printed too.
    """
    shown = list(items[:most])
    rest = items[most:]
    if rest:
        shown.append((f"{len(rest)} other artists", sum(share for _, share in rest)))
    label_width, bar_space, row, line = 190, 270, 26, 15
    width = label_width + bar_space + 60
    wrapped = [wrap_label(label, BAR_LABEL_CHARACTERS) for label, _ in shown]
    heights = [row + line * (len(lines) - 1) for lines in wrapped]
    height = 12 + (sum(heights) if shown else row)
    parts = [
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" {_FONT}>',
        f"<title>{escape(title)}</title>",
    ]
    y = 6
    for i, ((label, share), lines, tall) in enumerate(zip(shown, wrapped, heights)):
        length = max(share, 0.0) * bar_space
        colour = PALETTE[0] if i == 0 else "#7fb2d6"
        # The bar and its share stand beside the name's middle line.
        middle = y + (tall - row) / 2
        spans = "".join(
            f'<tspan x="{label_width - 8}" dy="{0 if j == 0 else line}">{escape(text)}</tspan>'
            for j, text in enumerate(lines)
        )
        parts.append(
            f"<g><title>{escape(label)}: {share:.1%}</title>"
            f'<text x="{label_width - 8}" y="{y + 13}" text-anchor="end" class="label">{spans}</text>'
            f'<rect x="{label_width}" y="{_n(middle + 2)}" width="{_n(length)}" height="{row - 8}" '
            f'fill="{colour}"/>'
            f'<text x="{_n(label_width + length + 6)}" y="{_n(middle + 13)}" class="share">{share:.1%}</text></g>'
        )
        y += tall
    parts.append("</svg>")
    return Markup("\n".join(parts))


def wrap_label(label: str, width: int) -> list[str]:
    """``label`` in lines of at most ``width`` characters, broken between words where it can be
    (a word longer than a line is cut into pieces); no character is dropped."""
    lines: list[str] = []
    current = ""
    for word in label.split():
        while len(word) > width:  # no space to break at: cut the word itself
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:width])
            word = word[width:]
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current or not lines:
        lines.append(current)
    return lines
