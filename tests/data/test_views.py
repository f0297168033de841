"""The views of a painting: view 0 is the training loader's pixels, crops sit on a fixed even grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from painter_match.data.images import load_pixels
from painter_match.data.views import Views, crop_boxes, crop_side, grid_shape, view_pixels
from painter_match.errors import ImageLoadError


def _painting(path: Path, width: int, height: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
    return path


@pytest.mark.parametrize(
    ("crops", "width", "height", "shape"),
    [
        (1, 100, 100, (1, 1)),
        (4, 100, 100, (2, 2)),
        (2, 100, 100, (1, 2)),
        (3, 300, 100, (1, 3)),
        (3, 100, 300, (3, 1)),
        (6, 150, 100, (2, 3)),
        (6, 100, 150, (3, 2)),
        (5, 100, 100, (1, 5)),
    ],
)
def test_grid_shape_follows_the_painting(crops: int, width: int, height: int, shape: tuple[int, int]) -> None:
    assert grid_shape(crops, width, height) == shape


def test_crop_boxes_spread_evenly_to_the_edges() -> None:
    boxes = crop_boxes(4, 150, 100, 50)
    assert len(boxes) == 4
    assert sorted({b[0] for b in boxes}) == [0, 100] and sorted({b[1] for b in boxes}) == [0, 50]
    assert [b[0] for b in crop_boxes(3, 300, 100, 50)] == [0, 125, 250]  # centres evenly spaced
    assert all(b[2] - b[0] == 50 and b[3] - b[1] == 50 for b in boxes)
    assert crop_boxes(1, 200, 100, 50) == [(75, 25, 125, 75)]  # one crop: centred
    with pytest.raises(ValueError):
        crop_boxes(2, 40, 100, 50)


def test_global_view_alone_is_exactly_load_pixels(tmp_path: Path) -> None:
    path = _painting(tmp_path / "a.jpg", 300, 200)
    views = view_pixels(path, 32, Views())
    assert views.shape == (1, 32, 32, 3) and views.dtype == np.uint8
    np.testing.assert_array_equal(views[0], load_pixels(path, 32))


def test_crops_shape_determinism_and_global_view(tmp_path: Path) -> None:
    path = _painting(tmp_path / "a.png", 180, 120)
    policy = Views(crops=4, crop_scale=2.0)
    first = view_pixels(path, 32, policy)
    assert first.shape == (5, 32, 32, 3)
    np.testing.assert_array_equal(first, view_pixels(path, 32, policy))
    # A PNG decodes the same whatever size is asked for, so view 0 is load_pixels' exactly.
    np.testing.assert_array_equal(first[0], load_pixels(path, 32))
    assert crop_side(32, policy) == 64
    assert not np.array_equal(first[1], first[4])  # different places of the painting


def test_small_painting_is_upscaled_for_its_crops(tmp_path: Path) -> None:
    path = _painting(tmp_path / "small.png", 40, 30)
    assert view_pixels(path, 32, Views(crops=2, crop_scale=3.0)).shape == (3, 32, 32, 3)


def test_unreadable_file_raises_image_load_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(ImageLoadError):
        view_pixels(bad, 32, Views(crops=2))


def test_crops_are_cut_from_one_resize_and_none_at_the_crop_scale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import painter_match.data.views as views_module

    sizes: list[int] = []
    real_resize = views_module.resize_shorter_side

    def counting(image: Image.Image, size: int) -> Image.Image:
        sizes.append(size)
        return real_resize(image, size)

    monkeypatch.setattr(views_module, "resize_shorter_side", counting)
    policy = Views(crops=4, crop_scale=2.0)
    # One decode, one resize to the crop scale (shared by every crop), one to the global view.
    assert view_pixels(_painting(tmp_path / "a.png", 180, 120), 32, policy).shape == (5, 32, 32, 3)
    assert sorted(sizes) == [32, 64]
    # The file is already at the crop scale (shorter side 64): the crops are its pixels, unresampled.
    exact = _painting(tmp_path / "b.png", 96, 64, seed=1)
    out = view_pixels(exact, 32, policy)
    pixels = np.asarray(Image.open(exact).convert("RGB"))
    for view, (left, top, right, bottom) in zip(out[1:], crop_boxes(4, 96, 64, 32)):
        np.testing.assert_array_equal(view, pixels[top:bottom, left:right])
