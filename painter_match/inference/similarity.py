"""The one row-wise cosine: ``vectors[rows1[i]] . vectors[rows2[i]]`` for every pair i, in bounded memory.

Embeddings are L2-normalised, so a dot product is the cosine. Gathering both sides of millions of
pairs at once would copy every vector once per pair (the real test set has 21.9 million); this
gathers cache-sized tiles, or, where one side repeats (Kaggle lists an image's pairs together),
one matrix-vector product per run. Wide embeddings (the packaged model's 1,536 numbers: 6 KB a
row) make that gather memory-bound; where a block's pairs cover their distinct rows densely (each
image of Kaggle's file meets about one in 26 of the others in a block) one matrix product of the
distinct rows computes them all, and the pairs are picked out of it. Every caller that scores
indexed pairs uses it: the scoring engine, training's validation, evaluation, the baselines and
export's AUC.
"""

from __future__ import annotations

import numpy as np

# Rows per gather in the general path: two 2048 x D float32 tiles stay in cache while the
# row-wise dot products read them (measured 1.4x faster per row than 8k-row tiles).
_GATHER_ROWS = 2048
# A block is scored run by run (one matrix-vector product per run of equal image1, or image2,
# names) when its runs average at least this many rows; Kaggle's file lists each image's pairs
# together, so its runs are hundreds of rows long and only one side needs gathering.
_MIN_RUN = 16
# The product path: for embeddings at least this wide, when the distinct first rows times the
# distinct second rows number at most this many per pair. Measured on 2 million pairs at
# 1,536-d (one process, shared cores): Kaggle's grouped order (26 combinations a pair) 4.3-5.8x
# faster than gathering; random order (284 a pair) 4x slower, so the cut lies well below it. At
# 256-d the rows stay in cache and gathering wins (0.7-0.8x).
_PRODUCT_MIN_DIM = 512
_PRODUCT_MAX_FILL = 48
# Fewer pairs than this are quick either way; finding their distinct rows would cost more.
_PRODUCT_MIN_PAIRS = 4096
# Products computed per tile of first rows (float32): 16 MB, however many rows the other side has.
_PRODUCT_TILE_VALUES = 1 << 22


def pairwise_cosine(vectors: np.ndarray, rows1: np.ndarray, rows2: np.ndarray) -> np.ndarray:
    """Dot product of ``vectors[rows1[i]]`` and ``vectors[rows2[i]]`` for every i, float32.

    With L2-normalised rows this is the cosine similarity of each pair. Runs of one repeated
    row on either side (Kaggle lists an image's pairs together) become one matrix-vector
    product per run, which gathers only the other side; otherwise rows are gathered in
    cache-sized tiles.

    Args:
        vectors: ``[N, D]`` embeddings (float32 avoids a copy).
        rows1, rows2: equally long integer arrays of rows in ``vectors``.

    Raises:
        ValueError: ``vectors`` is not 2-D, or ``rows1`` and ``rows2`` differ in length.
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)  # no copy when already so
    rows1, rows2 = np.asarray(rows1), np.asarray(rows2)
    if vectors.ndim != 2:
        raise ValueError(f"vectors must be [N, D], got shape {vectors.shape}")
    if rows1.shape != rows2.shape:
        raise ValueError(f"rows1 and rows2 differ in length: {rows1.shape} vs {rows2.shape}")
    n = len(rows1)
    out = np.empty(n, dtype=np.float32)
    if n == 0:
        return out
    wide_and_many = vectors.shape[1] >= _PRODUCT_MIN_DIM and n >= _PRODUCT_MIN_PAIRS
    if wide_and_many and _product_cosine(vectors, rows1, rows2, out):
        return out
    breaks1 = np.flatnonzero(rows1[1:] != rows1[:-1]) + 1
    breaks2 = np.flatnonzero(rows2[1:] != rows2[:-1]) + 1
    fixed, other, breaks = (
        (rows1, rows2, breaks1) if len(breaks1) <= len(breaks2) else (rows2, rows1, breaks2)
    )
    if n >= _MIN_RUN * (len(breaks) + 1):
        starts = np.r_[0, breaks]
        stops = np.r_[breaks, n]
        for start, stop in zip(starts.tolist(), stops.tolist()):
            np.dot(vectors[other[start:stop]], vectors[fixed[start]], out=out[start:stop])
        return out
    for start in range(0, n, _GATHER_ROWS):
        stop = start + _GATHER_ROWS
        # Fancy indexing gathers faster than np.take(..., out=) here (measured 0.28 vs 0.37 s per
        # million pairs); einsum then reads both tiles while they are still in cache.
        np.einsum("ij,ij->i", vectors[rows1[start:stop]], vectors[rows2[start:stop]], out=out[start:stop])
    return out


def _distinct(rows: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of ``rows`` (sorted) and each row's place among them, in O(n + count)."""
    present = np.zeros(count, dtype=bool)
    present[rows] = True
    values = np.flatnonzero(present)
    place = np.cumsum(present, dtype=np.int64) - 1
    return values, place[rows]


def _product_cosine(vectors: np.ndarray, rows1: np.ndarray, rows2: np.ndarray, out: np.ndarray) -> bool:
    """Fill ``out`` from tiles of the matrix product of the distinct rows on each side; False
    (``out`` untouched) when the pairs are too sparse among those rows for it to pay."""
    n = len(rows1)
    first, place1 = _distinct(rows1, len(vectors))
    second, place2 = _distinct(rows2, len(vectors))
    if len(first) * len(second) > _PRODUCT_MAX_FILL * n:
        return False
    if 2 * len(second) > len(vectors):
        # Most rows take part: read them where they are instead of copying them.
        right, place2 = vectors, rows2
    else:
        right = vectors[second]
    order = np.argsort(place1, kind="stable")
    sorted_place = place1[order]
    tile = max(1, _PRODUCT_TILE_VALUES // len(right))
    for start in range(0, len(first), tile):
        lo, hi = np.searchsorted(sorted_place, [start, start + tile])
        if lo == hi:
            continue
        products = vectors[first[start : start + tile]] @ right.T
        picked = order[lo:hi]
        out[picked] = products[place1[picked] - start, place2[picked]]
    return True
