"""The painting finder: synthetic gallery photos with a known outline, the bad cases, the record,
and its plumbing through views and the encoder (whole images embed exactly as with it off)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("cv2", reason="the painting finder needs opencv-python-headless")

from painter_match.data.gallery_synth import _wall, composite, framed_painting, painting  # noqa: E402
from painter_match.data.images import load_image_sized  # noqa: E402
from painter_match.data.painting_finder import (  # noqa: E402
    FoundPainting,
    check_edge,
    check_mode,
    locate,
    quad_iou,
    rectify,
)
from painter_match.data.views import Views, found_view_pixels, view_pixels  # noqa: E402

SEEDS = range(16)


def _box(left: float, top: float, right: float, bottom: float) -> np.ndarray:
    return np.array([[left, top], [right, top], [right, bottom], [left, bottom]], dtype=float)


def _on_wall(seed: int, size: tuple[int, int], pieces: list[tuple[Image.Image, int, int]]) -> Image.Image:
    """A plain synthetic wall with flat images pasted at (x, y)."""
    wall = _wall(np.random.default_rng(seed), *size)
    for piece, x, y in pieces:
        wall[y : y + piece.height, x : x + piece.width] = np.asarray(piece)[: size[1] - y, : size[0] - x]
    return Image.fromarray(np.clip(wall, 0, 255).astype(np.uint8))


def test_synthetic_gallery_photos_outline_or_whole() -> None:
    """Most seeded composites (perspective, frame, shadow, glare, label, clutter) are cropped to
    an outline with IoU >= 0.9; every one that is not is recorded as the whole image."""
    good = 0
    for seed in SEEDS:
        photo = composite(seed)
        found = locate(photo.image, "auto")
        if found.cropped:
            assert found.quad is not None
            iou = quad_iou(found.quad, photo.frame)
            assert iou >= 0.9, f"seed {seed}: cropped to an outline of IoU {iou:.3f} ({found.reason})"
            good += 1
        else:
            assert found.quad is None and found.reason
    assert good >= 0.8 * len(SEEDS)


def test_canvas_edge_crops_inside_the_frame() -> None:
    hits = 0
    for seed in SEEDS:
        photo = composite(seed, frame="gilt")
        found = locate(photo.image, "auto", edge="canvas")
        if found.cropped and found.quad is not None and quad_iou(found.quad, photo.canvas) >= 0.85:
            hits += 1
    assert hits >= 0.4 * len(SEEDS)  # else the frame's outline: no line inside stood out all round


def test_no_painting_gives_the_whole_image() -> None:
    wall = _on_wall(1, (640, 480), [])
    for mode in ("auto", "on"):
        found = locate(wall, mode)
        assert not found.cropped and found.quad is None
        assert found.reason == "no painting outline found"


def test_a_painting_alone_is_left_whole() -> None:
    """A catalogue image (the painting and nothing else) has no outline to crop to."""
    found = locate(painting(3, 500, 400), "auto")
    assert not found.cropped


def test_several_paintings_the_largest_is_found() -> None:
    big, _ = framed_painting(7, 300, 240, frame="wood")
    small, _ = framed_painting(8, 120, 100, frame="black")
    photo = _on_wall(2, (900, 600), [(big, 420, 150), (small, 120, 200)])
    truth = _box(420, 150, 420 + big.width, 150 + big.height)
    for mode in ("auto", "on"):
        found = locate(photo, mode)
        assert found.cropped and found.quad is not None
        assert quad_iou(found.quad, truth) >= 0.9


def test_a_painting_touching_the_edge() -> None:
    big, _ = framed_painting(7, 300, 240, frame="wood")
    cut = big.crop((big.width - 300, 0, big.width, big.height))
    photo = _on_wall(3, (900, 600), [(cut, 0, 120)])
    found = locate(photo, "on")
    assert found.cropped and found.quad is not None
    assert quad_iou(found.quad, _box(0, 120, 300, 120 + big.height)) >= 0.9


def test_a_frame_that_fills_the_picture() -> None:
    """The frame is the largest rectangle (a catalogue image of a framed painting): auto keeps the
    image whole; on crops to the canvas inside the frame, never to the frame's outer edge."""
    framed, box = framed_painting(4, 400, 300, frame="gilt", frame_share=0.1)
    assert not locate(framed, "auto").cropped
    for edge in ("frame", "canvas"):
        found = locate(framed, "on", edge=edge)
        assert found.cropped and found.quad is not None
        assert quad_iou(found.quad, _box(*box)) >= 0.9


@pytest.mark.parametrize("size", [(1, 1), (20, 20), (47, 300)])
def test_tiny_images_are_left_whole(size: tuple[int, int]) -> None:
    found = locate(Image.new("RGB", size, (200, 190, 180)), "on")
    assert not found.cropped and "too small" in found.reason


def test_an_enormous_image_is_searched_reduced(tmp_path: Path) -> None:
    """A 4800 px photo: JPEG-drafted for the views, reduced again for the search; the outline is
    in the original's pixels."""
    photo = composite(2)
    big = photo.image.resize((photo.image.width * 6, photo.image.height * 6), Image.Resampling.BILINEAR)
    path = tmp_path / "big.jpg"
    big.save(path, quality=90)
    pixels, found = found_view_pixels(path, 64, Views(), find_painting="auto")
    assert pixels.shape == (1, 64, 64, 3)
    assert found is not None and found.image_size == big.size
    assert found.cropped and found.quad is not None
    assert quad_iou(found.quad, photo.frame * 6) >= 0.9


def test_off_and_whole_embed_exactly_as_before(tmp_path: Path) -> None:
    """find_painting="off" is `view_pixels`; "auto" on a painting alone gives the same pixels."""
    path = tmp_path / "art.jpg"
    painting(5, 640, 480).save(path, quality=92)
    for views in (Views(), Views(crops=4)):
        expected = view_pixels(path, 64, views)
        off, none = found_view_pixels(path, 64, views, find_painting="off")
        auto, record = found_view_pixels(path, 64, views, find_painting="auto")
        assert none is None and record is not None and not record.cropped
        np.testing.assert_array_equal(off, expected)
        np.testing.assert_array_equal(auto, expected)


def test_cropped_views_come_from_the_painting(tmp_path: Path) -> None:
    photo = composite(0)
    path = tmp_path / "photo.png"
    photo.image.save(path)
    pixels, found = found_view_pixels(path, 48, Views(crops=2), find_painting="on")
    assert found is not None and found.cropped
    assert pixels.shape == (3, 48, 48, 3) and pixels.dtype == np.uint8
    whole = view_pixels(path, 48, Views(crops=2))
    assert not np.array_equal(pixels, whole)


def test_exif_rotation_swaps_the_original_size(tmp_path: Path) -> None:
    image = Image.new("RGB", (300, 200), (10, 20, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif)
    decoded, full = load_image_sized(path)
    assert decoded.size == (200, 300) and full == (200, 300)


def test_rectify_gives_the_quad_proportions() -> None:
    image = Image.new("RGB", (400, 300), (0, 0, 0))
    out = rectify(image, _box(50, 40, 250, 140))
    assert out.size == (200, 100)


def test_record_round_trips_through_json() -> None:
    found = locate(composite(1).image, "auto")
    data = json.loads(json.dumps(found.to_json()))
    back = FoundPainting.from_json(data)
    assert back.cropped == found.cropped and back.reason == found.reason
    assert back.image_size == found.image_size
    if found.quad is not None:
        assert back.quad is not None
        np.testing.assert_allclose(np.array(back.quad), np.array(found.quad), atol=0.06)


@pytest.mark.parametrize(
    "bad",
    [
        [],
        {"find_painting": "maybe", "edge": "frame"},
        {"find_painting": "auto", "edge": "middle"},
        {"find_painting": "auto", "edge": "frame", "quad": [[1, 2], [3]]},
        {"find_painting": "auto", "edge": "frame", "quad": [[1, 2]] * 4, "image_size": "big"},
        {"find_painting": "on", "edge": "frame", "outline": [[0, "x"]] * 4},
    ],
)
def test_bad_records_are_refused_with_a_message(bad: object) -> None:
    with pytest.raises(ValueError, match="painting record"):
        FoundPainting.from_json(bad)  # type: ignore[arg-type]


def test_modes_and_edges_are_checked() -> None:
    assert check_mode("auto") == "auto" and check_edge("canvas") == "canvas"
    with pytest.raises(ValueError, match="find_painting must be one of auto, on, off"):
        check_mode("yes")
    with pytest.raises(ValueError, match="painting_edge must be one of frame, canvas"):
        check_edge("inner")


def test_encoder_records_what_was_done(tmp_path: Path) -> None:
    from onnx_models import tiny_info, write_tiny_model

    from painter_match.inference.encoder import OnnxEncoder
    from painter_match.inference.inputs import ImageInput
    from painter_match.inference.model import open_model

    model = open_model(
        write_tiny_model(tmp_path / "tiny.onnx", info=tiny_info(input_size=32)), provider="cpu"
    )
    paths = []
    for seed in range(3):
        path = tmp_path / f"photo{seed}.jpg"
        composite(seed).image.save(path, quality=90)
        paths.append(path)
    art = tmp_path / "art.jpg"
    painting(9, 300, 240).save(art)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg")
    inputs: list[ImageInput] = [*paths, bad, art, np.asarray(composite(3).image)]
    encoder = OnnxEncoder(model, batch_size=2, workers=2, find_painting="auto")
    vectors, failures, records = encoder.encode_with_paintings(inputs)
    assert [f.index for f in failures] == [3]
    assert records[3] is None
    assert all(isinstance(r, FoundPainting) for i, r in enumerate(records) if i != 3)
    assert records[4] is not None and not records[4].cropped
    assert sum(r.cropped for r in records if r is not None) >= 3
    off_vectors, _, off_records = OnnxEncoder(model, batch_size=2).encode_with_paintings([art])
    assert off_records == [None]
    np.testing.assert_allclose(off_vectors[0], vectors[4], atol=1e-4)  # batch size differs
    with pytest.raises(ValueError, match="find_painting"):
        OnnxEncoder(model, find_painting="sometimes")


def test_gallery_measurement_skips_without_the_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.gallery_photos import main

    assert main(["--data", str(tmp_path / "absent")]) == 0
    assert "skipped" in capsys.readouterr().out


def test_the_api_refuses_a_bad_mode_and_ray_with_the_finder(tmp_path: Path) -> None:
    from onnx_models import tiny_info, write_tiny_model

    from painter_match import load
    from painter_match.errors import UsageError

    model = load(write_tiny_model(tmp_path / "tiny.onnx", info=tiny_info(input_size=32)), provider="cpu")
    with pytest.raises(ValueError, match="find_painting must be one of"):
        model.embed(np.zeros((40, 40, 3), np.uint8), find_painting="maybe")
    photo = np.asarray(composite(0).image)
    assert model.embed(photo, find_painting="on").shape == (16,)
    with pytest.raises(UsageError, match="local engine only"):
        model.embed_folder(tmp_path, tmp_path / "out.npz", engine="ray", find_painting="auto")
