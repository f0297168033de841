"""Cosine similarity of indexed pairs of embeddings, in bounded memory.

Embeddings are L2-normalised, so a dot product is the cosine. Gathering both sides of millions
of pairs at once would copy every vector once per pair; chunking keeps the copy to a fixed
number of rows whatever the number of pairs (the real test set has 21.9 million).
"""

from __future__ import annotations

import numpy as np

DEFAULT_CHUNK = 1 << 18


def pair_similarity(
    embeddings: np.ndarray, first: np.ndarray, second: np.ndarray, *, chunk: int = DEFAULT_CHUNK
) -> np.ndarray:
    """``embeddings[first[k]] . embeddings[second[k]]`` for every k, as float32.

    Raises:
        ValueError: when ``first`` and ``second`` differ in length or ``embeddings`` is not 2-D.
    """
    if embeddings.ndim != 2:
        raise ValueError(f"embeddings must be [N, D], got shape {embeddings.shape}")
    if first.shape != second.shape:
        raise ValueError(f"first and second differ in length: {first.shape} vs {second.shape}")
    out = np.empty(first.shape[0], dtype=np.float32)
    for start in range(0, first.shape[0], chunk):
        stop = start + chunk
        out[start:stop] = np.einsum("ij,ij->i", embeddings[first[start:stop]], embeddings[second[start:stop]])
    return out
