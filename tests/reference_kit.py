"""What the reference tests share (tests/inference/test_reference.py and
tests/commands/test_reference_cli.py): unit vectors from hand-written rows, a combiner set by hand."""

from __future__ import annotations

import numpy as np

from painter_match.inference.reference.set import Combiner


def unit(*rows: list[float]) -> np.ndarray:
    array = np.asarray(rows, dtype=np.float32)
    return array / np.linalg.norm(array, axis=1, keepdims=True)


def basis(dim: int, *parts: tuple[int, float]) -> list[float]:
    """A vector with the given (axis, value) entries."""
    vector = [0.0] * dim
    for axis, value in parts:
        vector[axis] = value
    return vector


# Hand-set: a pair is "same" when the reference says so, whatever its cosine.
TRUSTING = Combiner(
    k=3,
    temperature=0.05,
    unknown_similarity=0.5,
    keep=3,
    coefficients=(-3.0, 3.0, 8.0, 0.0, 0.0, 0.0, 0.0),
)
