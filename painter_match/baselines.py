"""Non-learned baselines for same-artist decisions: the floor any trained model must beat.

The colour histogram compares only which colours a painting uses and how much of each; it
knows nothing of brushwork, texture or composition. A model that does not beat it has learned
nothing beyond the palette.
"""

from __future__ import annotations

import numpy as np


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


def histogram_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise similarity of two sets of `colour_histogram` features.

    Args:
        a: [N, D] features (or one [D] feature).
        b: features of the same shape as ``a``.

    Returns:
        [N] float32 similarities in [0, 1] (a 0-d array for 1-D inputs); higher means more alike.

    Raises:
        ValueError: when the shapes differ.
    """
    first = np.asarray(a, dtype=np.float32)
    second = np.asarray(b, dtype=np.float32)
    if first.shape != second.shape:
        raise ValueError(f"feature shapes differ: {list(first.shape)} vs {list(second.shape)}")
    # Rounding can push the dot product of two unit vectors a hair past 1.
    return np.clip(np.einsum("...d,...d->...", first, second), 0.0, 1.0).astype(np.float32)
