"""The trainer validates with the model's default views, as `embed` will run it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="the trainer's validation needs the [train] extra (torch)")

import torch
from PIL import Image

from painter_match.data.views import Views, crop_side, view_pixels
from painter_match.train.augment import EvalTransform, ViewsTransform
from painter_match.train.backbones import build_encoder
from painter_match.train.data import PaintingDataset
from painter_match.train.trainer import embed_dataset


def _paintings(folder: Path, count: int) -> list[str]:
    rng = np.random.default_rng(3)
    names = []
    for i in range(count):
        height, width = 60 + 7 * i, 90 - 5 * i
        Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(folder / f"{i}.png")
        names.append(f"{i}.png")
    return names


def test_views_transform_gives_exactly_the_pixels_embed_cuts(tmp_path: Path) -> None:
    names = _paintings(tmp_path, 2)
    views = Views(crops=4, crop_scale=2.0)
    dataset = PaintingDataset(
        tmp_path, names, [0, 1], ViewsTransform(32, views), load_side=crop_side(32, views)
    )
    for index, name in enumerate(names):
        stacked = dataset[index].image
        assert stacked is not None and stacked.shape == (5, 3, 32, 32)
        expected = torch.from_numpy(view_pixels(tmp_path / name, 32, views)).permute(0, 3, 1, 2) / 255.0
        assert torch.equal(stacked, expected)


@pytest.mark.parametrize("crops", [0, 3])
def test_validation_embedding_is_the_normalised_mean_of_the_views(tmp_path: Path, crops: int) -> None:
    names = _paintings(tmp_path, 5)
    views = Views(crops=crops)
    transform = ViewsTransform(32, views) if crops else EvalTransform(32)
    side = crop_side(32, views) if crops else 32
    dataset = PaintingDataset(tmp_path, names, list(range(5)), transform, load_side=side)
    torch.manual_seed(0)
    encoder = build_encoder("compact", embedding_dim=16, input_size=32)
    embeddings, indices, failures = embed_dataset(encoder, dataset, torch.device("cpu"), batch_size=2)
    assert failures == [] and indices.tolist() == [0, 1, 2, 3, 4]
    encoder.eval()
    with torch.no_grad():
        for row, name in enumerate(names):
            pixels = torch.from_numpy(view_pixels(tmp_path / name, 32, views)).permute(0, 3, 1, 2) / 255.0
            per_view = encoder(pixels)
            expected = torch.nn.functional.normalize(per_view.mean(dim=0), dim=0).numpy()
            np.testing.assert_allclose(embeddings[row], expected, atol=1e-5)
    if crops:  # the views differ, so their mean is not the global view's embedding
        with torch.no_grad():
            global_only = encoder(dataset[0].image[:1]).numpy()[0]  # type: ignore[index]
        assert np.abs(embeddings[0] - global_only).max() > 1e-3
