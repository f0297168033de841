"""Score pairs with the colour-histogram baseline: the floor any trained model must beat.

Reads the pairs of a data folder (Kaggle ``submission_info.csv`` with ``solution.csv``, or a
balanced sample drawn from the labelled paintings), decodes each image once, and reports ROC
AUC and the accuracy at the best threshold. Images that cannot be decoded drop their pairs,
and are counted.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from painter_match.baselines import colour_histogram
from painter_match.errors import DataError, ImageLoadError
from painter_match.images import load_pixels, resolve_inside
from painter_match.kaggle import (
    SOLUTION,
    SUBMISSION_INFO,
    cap_per_artist,
    read_catalogue,
    read_solution,
    read_submission_info,
    sample_pairs,
)
from painter_match.metrics import best_threshold_accuracy, roc_auc


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


def labelled_pairs(
    data_dir: Path, *, sample: int, max_per_artist: int | None, seed: int
) -> tuple[pd.DataFrame, str]:
    """The pairs to score, with ground truth: columns ``path1``, ``path2`` (under data_dir), ``same``.

    The competition's own test pairs when the folder has them with a solution; otherwise a
    balanced sample over every labelled painting.
    """
    submission, solution = data_dir / SUBMISSION_INFO, data_dir / SOLUTION
    if submission.is_file() and solution.is_file():
        pairs = read_submission_info(submission)
        truth = read_solution(solution)
        merged = pairs.merge(truth, on="index", how="left", validate="one_to_one")
        if merged["sameArtist"].isna().any():
            missing = merged.loc[merged["sameArtist"].isna(), "index"].iloc[0]
            raise DataError(f"{solution}: no ground truth for pair index {missing}")
        images = data_dir / "test"
        for name in pd.unique(pd.concat([merged["image1"], merged["image2"]])):
            resolve_inside(images, name)  # refuses names that leave the test folder
        return (
            pd.DataFrame(
                {
                    "path1": "test/" + merged["image1"],
                    "path2": "test/" + merged["image2"],
                    "same": merged["sameArtist"].astype(bool).to_numpy(),
                }
            ),
            f"{SUBMISSION_INFO} + {SOLUTION}",
        )
    catalogue = read_catalogue(data_dir)
    paintings = cap_per_artist(catalogue.paintings, max_per_artist, seed=seed)
    sampled = sample_pairs(paintings, sample, seed=seed)
    return (
        pd.DataFrame({"path1": sampled["image1"], "path2": sampled["image2"], "same": sampled["same"]}),
        f"{len(sampled):,} balanced pairs sampled from {catalogue.source}",
    )


def evaluate_colour_histogram(
    data_dir: str | Path,
    *,
    size: int = 128,
    sample: int = 4000,
    max_per_artist: int | None = None,
    seed: int = 0,
    workers: int | None = None,
    advance: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> BaselineReport:
    """ROC AUC of colour-histogram similarity on a data folder's labelled pairs."""
    root = Path(data_dir)
    pairs, source = labelled_pairs(root, sample=sample, max_per_artist=max_per_artist, seed=seed)
    unique = pd.unique(pd.concat([pairs["path1"], pairs["path2"]], ignore_index=True))
    if on_total:
        on_total(len(unique))

    def histogram(rel: str) -> np.ndarray | None:
        try:
            return colour_histogram(load_pixels(root / rel, size))
        except ImageLoadError:
            return None

    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        features: dict[str, np.ndarray | None] = {}
        for rel, feature in zip(unique, pool.map(histogram, unique)):
            features[rel] = feature
            if advance:
                advance(1)
    readable = pairs["path1"].map(lambda p: features[p] is not None) & pairs["path2"].map(
        lambda p: features[p] is not None
    )
    scored = pairs[readable]
    if scored.empty:
        raise DataError(f"{root}: none of the {len(pairs):,} pairs has two readable images")
    first = np.stack([features[p] for p in scored["path1"]])  # type: ignore[misc]
    second = np.stack([features[p] for p in scored["path2"]])  # type: ignore[misc]
    similarity = np.einsum("ij,ij->i", first, second)
    labels = scored["same"].to_numpy()
    accuracy, threshold = best_threshold_accuracy(labels, similarity)
    return BaselineReport(
        pairs_source=source,
        pairs=len(pairs),
        pairs_scored=len(scored),
        same_artist_share=float(labels.mean()),
        unreadable_images=sum(feature is None for feature in features.values()),
        roc_auc=roc_auc(labels, similarity),
        accuracy=accuracy,
        threshold=threshold,
        image_size=size,
    )
