"""Score labelled pairs with the colour-histogram baseline: the floor any trained model must beat.

Uses the same pairs as `painter-match evaluate` (see `labelled_pairs`), decodes each image once,
and reports ROC AUC and the accuracy at the best threshold. Images that cannot be decoded drop
their pairs, and are counted.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from painter_match.baselines import colour_histogram
from painter_match.errors import DataError, ImageLoadError
from painter_match.images import load_pixels
from painter_match.labelled_pairs import LabelledPairs, labelled_pairs
from painter_match.metrics import best_threshold_accuracy, roc_auc
from painter_match.similarity import pair_similarity


@dataclass(frozen=True)
class BaselineReport:
    """What ``painter-match baseline`` prints."""

    pairs_source: str
    pairs: int
    pairs_scored: int
    same_artist_share: float
    unreadable_images: int
    roc_auc: float
    accuracy: float
    threshold: float
    image_size: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def histogram_embeddings(
    root: Path,
    images: list[str],
    *,
    size: int = 128,
    workers: int | None = None,
    advance: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Colour histograms of the images (``[N, D]``) and which of them could be decoded (``[N]``)."""

    def histogram(rel: str) -> np.ndarray | None:
        try:
            return colour_histogram(load_pixels(root / rel, size))
        except ImageLoadError:
            return None

    features: list[np.ndarray | None] = []
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        for feature in pool.map(histogram, images):
            features.append(feature)
            if advance:
                advance(1)
    readable = np.array([f is not None for f in features], dtype=bool)
    dim = next((f.size for f in features if f is not None), 1)
    empty = np.zeros(dim, np.float32)
    return np.stack([f if f is not None else empty for f in features]), readable


def histogram_scores(pairs: LabelledPairs, keep: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """Histogram similarity of the kept pairs."""
    return pair_similarity(embeddings, pairs.first[keep], pairs.second[keep])


def evaluate_colour_histogram(
    data_dir: str | Path,
    *,
    size: int = 128,
    max_per_artist: int | None = 60,
    pairs_file: Path | None = None,
    solution_file: Path | None = None,
    seed: int = 0,
    workers: int | None = None,
    advance: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> BaselineReport:
    """ROC AUC of colour-histogram similarity on a data folder's labelled pairs."""
    pairs = labelled_pairs(
        Path(data_dir),
        pairs_file=pairs_file,
        solution_file=solution_file,
        max_per_artist=max_per_artist,
        seed=seed,
    )
    if on_total:
        on_total(len(pairs.images))
    embeddings, readable = histogram_embeddings(
        pairs.root, pairs.images, size=size, workers=workers, advance=advance
    )
    keep = readable[pairs.first] & readable[pairs.second]
    labels = pairs.same[keep]
    if labels.size == 0 or labels.all() or not labels.any():
        raise DataError(
            f"{pairs.root}: the readable pairs need both same-artist and different-artist examples"
        )
    similarity = histogram_scores(pairs, keep, embeddings)
    accuracy, threshold = best_threshold_accuracy(labels, similarity)
    return BaselineReport(
        pairs_source=pairs.source,
        pairs=len(pairs.same),
        pairs_scored=int(keep.sum()),
        same_artist_share=float(labels.mean()),
        unreadable_images=int((~readable).sum()),
        roc_auc=roc_auc(labels, similarity),
        accuracy=accuracy,
        threshold=threshold,
        image_size=size,
    )
