"""The colour-histogram baseline: a normalised Hellinger feature whose dot product (the one row-wise
cosine, `pairwise_cosine`) is a similarity."""

from __future__ import annotations

import numpy as np
import pytest

from painter_match.evaluation.baselines import colour_histogram
from painter_match.inference.similarity import pairwise_cosine


def _similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float(pairwise_cosine(np.stack([a, b]), np.array([0]), np.array([1]))[0])


def _image(seed: int, shape: tuple[int, int] = (20, 30)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)


def test_shape_dtype_and_normalisation() -> None:
    feature = colour_histogram(_image(0))
    assert feature.shape == (8**3,) and feature.dtype == np.float32
    assert np.isclose(float(np.sum(feature.astype(np.float64) ** 2)), 1.0, atol=1e-6)  # L1 before the root
    assert (feature >= 0).all()
    assert colour_histogram(_image(0), bins=4).shape == (64,)
    assert colour_histogram(_image(0), bins=5).shape == (125,)


def test_counts_land_in_the_right_cells() -> None:
    pixels = np.zeros((2, 2, 3), dtype=np.uint8)
    pixels[0, 0] = (255, 255, 255)  # one white pixel, three black ones
    squared = colour_histogram(pixels, bins=2).astype(np.float64) ** 2
    assert np.allclose(squared, [0.75, 0, 0, 0, 0, 0, 0, 0.25])


def test_identical_images_have_similarity_one() -> None:
    a = colour_histogram(_image(1))
    shuffled = _image(1).reshape(-1, 3)[::-1].reshape(20, 30, 3)  # same colours, other places
    assert _similarity(a, colour_histogram(shuffled)) == pytest.approx(1.0, abs=1e-6)


def test_disjoint_colours_have_similarity_zero() -> None:
    red = np.zeros((8, 8, 3), dtype=np.uint8)
    red[..., 0] = 250
    blue = np.zeros((8, 8, 3), dtype=np.uint8)
    blue[..., 2] = 250
    assert _similarity(colour_histogram(red), colour_histogram(blue)) == 0.0


@pytest.mark.parametrize(
    ("pixels", "bins", "message"),
    [
        (np.zeros((4, 4, 3), dtype=np.float32), 8, "uint8"),
        (np.zeros((4, 4), dtype=np.uint8), 8, "shape"),
        (np.zeros((4, 4, 4), dtype=np.uint8), 8, "shape"),
        (np.zeros((0, 4, 3), dtype=np.uint8), 8, "empty"),
        (np.zeros((4, 4, 3), dtype=np.uint8), 0, "bins"),
    ],
)
def test_bad_input_is_rejected(pixels: np.ndarray, bins: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        colour_histogram(pixels, bins=bins)
