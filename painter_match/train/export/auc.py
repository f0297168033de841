"""Validation AUC of an ONNX model: embed the validation paintings, score the pairs, ROC AUC.

This is how export tells what a variant (int8, fp16) costs: the fp32 and the variant model score
the same pairs of the same decoded pixels, so the difference is the variant's alone.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from painter_match.data.pairs import Pairs
from painter_match.errors import DataError
from painter_match.inference.similarity import pairwise_cosine
from painter_match.metrics import roc_auc

Runner = Callable[[np.ndarray], np.ndarray]


def embed(run: Runner, pixels: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """Embeddings of ``pixels`` in batches: uint8 [N, S, S, 3] -> float32 [N, D]."""
    chunks = [
        np.asarray(run(pixels[i : i + batch_size]), np.float32) for i in range(0, len(pixels), batch_size)
    ]
    return np.concatenate(chunks)


def pair_auc(run: Runner, pixels: np.ndarray, kept: np.ndarray, pairs: Pairs) -> float:
    """ROC AUC of ``run`` on the validation pairs whose two paintings both decoded.

    Args:
        run: uint8 pixels -> embeddings.
        pixels: the decoded validation paintings, row ``k`` being ``pairs.paths[kept[k]]``.
        kept: which paintings decoded.
        pairs: the validation pairs.

    Raises:
        DataError: when no pair of both kinds is left.
    """
    embeddings = embed(run, pixels)
    matrix = np.zeros((len(pairs.paths), embeddings.shape[1]), np.float32)
    matrix[kept] = embeddings
    readable = np.zeros(len(pairs.paths), bool)
    readable[kept] = True
    usable = readable[pairs.first] & readable[pairs.second]
    labels = pairs.same[usable]
    if labels.all() or not labels.any():
        raise DataError(
            f"{pairs.root}: the validation pairs need both same-artist and different-artist examples"
        )
    return roc_auc(labels, pairwise_cosine(matrix, pairs.first[usable], pairs.second[usable]))
