"""The encoder: input order, batch and thread independence, failures reported, views averaged."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from onnx_models import tiny_info, write_tiny_model

from painter_match.data.images import find_images, load_image
from painter_match.data.views import Views
from painter_match.errors import ImageLoadError
from painter_match.inference.encoder import OnnxEncoder, normalise
from painter_match.inference.inputs import ImageInput
from painter_match.inference.model import LoadedModel, open_model


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    path = write_tiny_model(tmp_path_factory.mktemp("model") / "tiny.onnx", info=tiny_info(input_size=32))
    return open_model(path, provider="cpu")


def _readable(path: Path) -> bool:
    try:
        load_image(path)
    except ImageLoadError:
        return False
    return True


@pytest.fixture(scope="module")
def images(synth_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Readable test paintings with one bad file in the middle."""
    good = [p for p in find_images(synth_dir / "test") if _readable(p)][:9]
    bad = tmp_path_factory.mktemp("bad") / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff not really a jpeg")
    return [*good[:4], bad, *good[4:]]


def test_encode_is_ordered_normalised_and_batch_independent(model: LoadedModel, images: list[Path]) -> None:
    vectors, failures = OnnxEncoder(model, batch_size=3, workers=2).encode(images)
    assert vectors.shape == (len(images), 16) and vectors.dtype == np.float32
    assert [(f.index, f.path) for f in failures] == [(4, str(images[4]))]
    assert np.isnan(vectors[4]).all()
    ok = np.delete(vectors, 4, axis=0)
    np.testing.assert_allclose(np.linalg.norm(ok, axis=1), 1.0, atol=1e-4)
    single, _ = OnnxEncoder(model, batch_size=1, workers=1, prefetch=0).encode(images)
    np.testing.assert_allclose(np.delete(single, 4, axis=0), ok, atol=1e-4)
    # Each image on its own gives the same vector: no batch effects.
    encoder = OnnxEncoder(model)
    alone = encoder.embed_pixels([encoder.pixels(images[0])])
    np.testing.assert_allclose(alone[0], vectors[0], atol=1e-4)


def test_iter_encode_batches_cover_the_input_in_order(model: LoadedModel, images: list[Path]) -> None:
    batches = list(OnnxEncoder(model, batch_size=4, workers=3).iter_encode(images))
    assert [(b.start, b.stop) for b in batches] == [(0, 4), (4, 8), (8, 10)]
    assert batches[1].indices.tolist() == [5, 6, 7] and batches[1].failures[0].index == 4
    assert sum(b.count for b in batches) == len(images)


def test_closing_early_cancels_the_rest_and_stops_the_decode_threads(
    model: LoadedModel, images: list[Path]
) -> None:
    decoded: list[str] = []

    class Counting(OnnxEncoder):
        def pixels(self, image: ImageInput) -> np.ndarray:
            decoded.append(str(image))
            return super().pixels(image)

    before = set(threading.enumerate())
    iterator = Counting(model, batch_size=2, workers=2, prefetch=2).iter_encode(images * 5)
    first = next(iterator)
    assert (first.start, first.stop) == (0, 2)
    iterator.close()
    with pytest.raises(StopIteration):
        next(iterator)
    # At most the window decoded ahead (3 batches) and the few already running: not all 50.
    assert 2 <= len(decoded) <= 2 * 3 + 2
    assert [t.name for t in set(threading.enumerate()) - before if t.name.startswith("decode")] == []


def test_progress_callback_counts_every_image(model: LoadedModel, images: list[Path]) -> None:
    seen: list[int] = []
    OnnxEncoder(model, batch_size=4).encode(images, on_progress=seen.append)
    assert seen == [4, 4, 2]


def test_views_are_averaged_then_normalised(model: LoadedModel, images: list[Path]) -> None:
    encoder = OnnxEncoder(model, views=Views(crops=4), workers=2)
    vectors, failures = encoder.encode(images[:3])
    assert not failures
    for path, vector in zip(images[:3], vectors):
        per_view = model.run(encoder.pixels(path))
        assert per_view.shape == (5, 16)
        np.testing.assert_allclose(vector, normalise(per_view.mean(axis=0)), atol=1e-4)
    plain, _ = OnnxEncoder(model).encode(images[:3])
    assert not np.allclose(plain, vectors)


def test_bad_settings_are_value_errors(model: LoadedModel) -> None:
    for kwargs in ({"batch_size": 0}, {"workers": 0}, {"prefetch": -1}):
        with pytest.raises(ValueError):
            OnnxEncoder(model, **kwargs)  # type: ignore[arg-type]
    vectors, failures = OnnxEncoder(model).encode([])
    assert vectors.shape == (0, 16) and failures == []


def test_all_views_of_a_batch_go_to_the_model_in_one_call(model: LoadedModel, images: list[Path]) -> None:
    calls: list[int] = []

    class Counting:
        """The model, counting the rows of every call."""

        info, path = model.info, model.path

        def run(self, pixels: np.ndarray) -> np.ndarray:
            calls.append(len(pixels))
            return model.run(pixels)

    good = [p for p in images if p.name != "bad.jpg"][:6]
    encoder = OnnxEncoder(Counting(), views=Views(crops=3), batch_size=4, workers=2)  # type: ignore[arg-type]
    vectors, failures = encoder.encode(good)
    assert not failures and vectors.shape == (6, 16)
    assert calls == [4 * 4, 2 * 4]  # one call a batch, every view of its paintings in it
