"""The photographed copy of a painting: seeded, every strength a real change, strength 0 the identity."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from painter_match.data.photographed import TEST_RANGES, TRAINING_RANGES, photograph, seed_for


def _painting(seed: int = 0, size: tuple[int, int] = (160, 120)) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
    return Image.fromarray(base).resize(size, Image.Resampling.BICUBIC)


def test_same_seed_same_pixels_other_seed_other_pixels() -> None:
    image = _painting()
    a = np.asarray(photograph(image, 0.7, seed=11))
    b = np.asarray(photograph(image, 0.7, seed=11))
    c = np.asarray(photograph(image, 0.7, seed=12))
    assert a.tobytes() == b.tobytes()
    assert a.shape != c.shape or np.abs(a.astype(int) - c.astype(int)).mean() > 1.0


def test_strength_zero_is_the_picture_itself() -> None:
    image = _painting(1)
    assert np.array_equal(np.asarray(photograph(image, 0.0, seed=3)), np.asarray(image))


def test_stronger_photographs_differ_more_from_the_painting() -> None:
    image = _painting(2)
    reference = np.asarray(image.resize((96, 96)), dtype=np.float32)

    def distance(strength: float) -> float:
        shots = [photograph(image, strength, seed=s).resize((96, 96)) for s in range(6)]
        return float(np.mean([np.abs(np.asarray(shot, np.float32) - reference).mean() for shot in shots]))

    assert distance(0.25) < distance(1.0)


def test_seeds_are_stable_across_processes_and_ranges_differ() -> None:
    assert seed_for("artist/1.jpg", "test-0.5") == seed_for("artist/1.jpg", "test-0.5")
    assert seed_for("artist/1.jpg", "test-0.5") != seed_for("artist/1.jpg", "train-photo1")
    assert TEST_RANGES != TRAINING_RANGES
    assert TRAINING_RANGES.wall == 0.0 < TEST_RANGES.wall


def test_strength_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="strength must be between 0 and 1"):
        photograph(_painting(), 1.5, seed=0)
