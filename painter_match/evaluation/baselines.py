"""Non-learned baselines for same-artist decisions: the floor any trained model must beat.

The colour histogram compares only which colours a painting uses and how much of each; it knows
nothing of brushwork, texture or composition. A model that does not beat it has learned nothing
beyond the palette. `evaluate_colour_histogram` scores the same pairs as `painter-match evaluate`
(see `labelled_pairs`), decodes each image once, and reports ROC AUC and the accuracy at the best
threshold. Images that cannot be decoded drop their pairs, and are counted.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from painter_match.data.images import load_pixels
from painter_match.data.pairs import Pairs
from painter_match.errors import DataError, ImageLoadError
from painter_match.evaluation.labelled_pairs import labelled_pairs
from painter_match.inference.similarity import pairwise_cosine
from painter_match.metrics import best_threshold_accuracy, roc_auc
from painter_match.workers import worker_count


def colour_histogram(pixels: np.ndarray, bins: int = 8) -> np.ndarray:
    """A joint RGB histogram of an image, as a Hellinger feature: the colour-only baseline.

    This is the floor any model must beat: two paintings by one artist often share a palette,
    and this feature sees nothing else.

    The histogram counts pixels in ``bins`` equal steps per channel (``bins ** 3`` cells), is
    L1-normalised, then square-rooted, so that the dot product of two features is the
    Bhattacharyya coefficient of the two colour distributions: 1 for identical distributions,
    0 for images with no colour cell in common.

    Args:
        pixels: a uint8 image of shape [H, W, 3] (RGB).
        bins: steps per channel, 1 to 256.

    Returns:
        A float32 vector of length ``bins ** 3`` with unit L2 norm.

    Raises:
        ValueError: for a wrong dtype or shape, an empty image, or bins out of range.
    """
    if not 1 <= bins <= 256:
        raise ValueError(f"bins must be in 1..256, got {bins}")
    array = np.asarray(pixels)
    if array.dtype != np.uint8:
        raise ValueError(f"pixels must be uint8, got {array.dtype}")
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"pixels must have shape [H, W, 3], got {list(array.shape)}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError("pixels is an empty image")
    # value * bins // 256 maps 0..255 onto 0..bins-1 in equal steps, for any bins.
    q = (array.reshape(-1, 3).astype(np.int64) * bins) >> 8
    cells = (q[:, 0] * bins + q[:, 1]) * bins + q[:, 2]
    counts = np.bincount(cells, minlength=bins**3).astype(np.float64)
    return np.sqrt(counts / counts.sum()).astype(np.float32)


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
    with ThreadPoolExecutor(max_workers=worker_count(workers)) as pool:
        for feature in pool.map(histogram, images):
            features.append(feature)
            if advance:
                advance(1)
    readable = np.array([f is not None for f in features], dtype=bool)
    dim = next((f.size for f in features if f is not None), 1)
    empty = np.zeros(dim, np.float32)
    return np.stack([f if f is not None else empty for f in features]), readable


def histogram_scores(pairs: Pairs, keep: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """Histogram similarity of the kept pairs."""
    return pairwise_cosine(embeddings, pairs.first[keep], pairs.second[keep])


def standardised_cosine_scores(
    features: np.ndarray, readable: np.ndarray, first: np.ndarray, second: np.ndarray
) -> np.ndarray:
    """Cosine similarity of the pairs after standardising each feature over the readable images.

    The ImageNet baseline's scores: raw ImageNet features are all positive and share a large
    common component, which cosine similarity would mostly measure.
    """
    good = features[readable]
    mean, std = good.mean(axis=0), good.std(axis=0) + 1e-6
    scaled = (features - mean) / std
    scaled /= np.maximum(np.linalg.norm(scaled, axis=1, keepdims=True), 1e-12)
    return pairwise_cosine(scaled.astype(np.float32), first, second)


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
        on_total(len(pairs.paths))
    embeddings, readable = histogram_embeddings(
        pairs.root, pairs.paths, size=size, workers=workers, advance=advance
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
