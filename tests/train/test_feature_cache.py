"""Frozen-backbone feature caching: the cached path gives the uncached path's features and embeddings."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="feature caching needs the [train] extra (torch)")


from painter_match.data.images import load_pixels  # noqa: E402
from painter_match.data.views import Views  # noqa: E402
from painter_match.train import feature_cache as cache_module  # noqa: E402
from painter_match.train.backbones import build_encoder  # noqa: E402
from painter_match.train.checkpoint import Checkpoint  # noqa: E402
from painter_match.train.feature_cache import (  # noqa: E402
    build_feature_cache,
    cached_view_names,
    supports_cache,
)
from painter_match.train.trainer import TrainConfig, _prepare_data, _validate, train  # noqa: E402


def _pixels(path: Path, size: int) -> torch.Tensor:
    return torch.from_numpy(load_pixels(path, size)).permute(2, 0, 1).float().div(255.0)[None]


@pytest.fixture(scope="module")
def lite() -> torch.nn.Module:
    # Random weights: equality of the two paths does not depend on what the weights are.
    torch.manual_seed(0)
    return build_encoder("efficientnet_lite0", input_size=64, embedding_dim=16, features="style").eval()


def _images(synth_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(synth_dir)) for p in (synth_dir / "train").glob("*.jpg"))[:5]


def test_view_names_follow_augment_and_views() -> None:
    assert cached_view_names((), Views()) == ("global",)
    assert cached_view_names(("flip", "color"), Views(crops=3)) == ("global", "flip")
    assert cached_view_names(("crop", "flip"), Views(crops=2)) == ("global", "flip", "crop1", "crop2")


def test_cached_features_equal_the_backbone_on_each_view(lite: torch.nn.Module, synth_dir: Path) -> None:
    images = _images(synth_dir)
    cache = build_feature_cache(lite, synth_dir, images, view_names=("global", "flip"))
    assert cache.features.shape == (len(images), 2, lite.feature_dim)
    assert cache.readable.all() and cache.failures == []
    with torch.no_grad():
        x = torch.cat([_pixels(synth_dir / rel, 64) for rel in images])
        want = lite.features(x).numpy()
        flipped = lite.features(torch.flip(x, dims=[3])).numpy()
        embeddings = torch.nn.functional.normalize(lite.head(torch.from_numpy(cache.features[:, 0])), dim=1)
    np.testing.assert_allclose(cache.features[:, 0], want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(cache.features[:, 1], flipped, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(embeddings.numpy(), lite(x).detach().numpy(), rtol=1e-4, atol=1e-5)


def test_pooled_features_come_from_the_same_statistics(synth_dir: Path) -> None:
    torch.manual_seed(0)
    pooled = build_encoder("efficientnet_lite0", input_size=64, features="pooled").eval()
    images = _images(synth_dir)[:2]
    cache = build_feature_cache(pooled, synth_dir, images)
    with torch.no_grad():
        want = pooled.features(torch.cat([_pixels(synth_dir / rel, 64) for rel in images])).numpy()
    np.testing.assert_allclose(cache.features[:, 0], want, rtol=1e-4, atol=1e-4)


def _count_computes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """From now on, the number of paintings each backbone pass of the cache build computes."""
    computed: list[int] = []
    real_compute = cache_module._compute

    def counting(encoder, root, paths, *args, **kwargs):  # type: ignore[no-untyped-def]
        computed.append(len(paths))
        return real_compute(encoder, root, paths, *args, **kwargs)

    monkeypatch.setattr(cache_module, "_compute", counting)
    return computed


def test_cache_dir_reuses_rows_for_any_subset_and_order(
    lite: torch.nn.Module, synth_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    images = _images(synth_dir)
    first = build_feature_cache(lite, synth_dir, images, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("features-*.npz"))) == 1
    computed = _count_computes(monkeypatch)
    again = build_feature_cache(lite, synth_dir, images[::-1][:3], cache_dir=tmp_path)
    assert sum(computed) == 0
    np.testing.assert_array_equal(again.features, first.features[::-1][:3])


def test_a_copied_data_folder_is_found_by_content_not_recomputed(
    lite: torch.nn.Module, synth_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    images = _images(synth_dir)
    cache = tmp_path / "cache"
    first = build_feature_cache(lite, synth_dir, images, cache_dir=cache)
    # A copy elsewhere with fresh modification times: every file id misses.
    copy = tmp_path / "copy"
    for name in images:
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(synth_dir / name, copy / name)
    (copy / images[1]).write_bytes(b"")  # one painting no longer the same bytes: recomputed
    computed = _count_computes(monkeypatch)
    again = build_feature_cache(lite, copy, images, cache_dir=cache)
    assert computed == [1]  # only the changed file; the others were found by their bytes
    kept = [i for i in range(len(images)) if i != 1]
    np.testing.assert_array_equal(again.features[kept], first.features[kept])
    assert not again.readable[1] and again.failures[0][0] == 1  # the emptied file cannot be decoded
    computed.clear()
    build_feature_cache(lite, copy, images, cache_dir=cache)
    assert computed == [1]  # re-keyed: found by id now (the unreadable one is retried, as always)


def test_an_interrupted_build_keeps_the_blocks_it_saved(
    lite: torch.nn.Module, synth_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    images = _images(synth_dir)
    monkeypatch.setattr(cache_module, "SAVE_EVERY", 2)
    real_views = cache_module._views_of

    def interrupted(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if path.name == Path(images[4]).name:
            raise KeyboardInterrupt  # Ctrl-C (or a kill) in the third block
        return real_views(path, *args, **kwargs)

    monkeypatch.setattr(cache_module, "_views_of", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_feature_cache(lite, synth_dir, images, cache_dir=tmp_path)
    (saved,) = tmp_path.glob("features-*.npz")
    with np.load(saved) as data:
        assert len(data["ids"]) == 4  # the two blocks finished before the interruption
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind

    monkeypatch.setattr(cache_module, "_views_of", real_views)
    computed = _count_computes(monkeypatch)
    resumed = build_feature_cache(lite, synth_dir, images, cache_dir=tmp_path)
    assert computed == [1]  # only the painting the interrupted build never finished
    fresh = build_feature_cache(lite, synth_dir, images)
    np.testing.assert_allclose(resumed.features, fresh.features, rtol=1e-5, atol=1e-5)


def test_unreadable_images_are_reported(lite: torch.nn.Module, tmp_path: Path, synth_dir: Path) -> None:
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    good = _images(synth_dir)[0]
    (tmp_path / "good.jpg").write_bytes((synth_dir / good).read_bytes())
    cache = build_feature_cache(lite, tmp_path, ["good.jpg", "bad.jpg"])
    assert cache.readable.tolist() == [True, False]
    assert [index for index, _ in cache.failures] == [1]


def test_only_lite_backbones_are_cached() -> None:
    compact = build_encoder("compact", input_size=32)
    assert not supports_cache(compact)
    with pytest.raises(ValueError, match="EfficientNet-Lite"):
        build_feature_cache(compact, Path("."), [])


@pytest.mark.parametrize(("augment", "crops"), [(("flip",), 0), (("flip", "crop"), 2)])
def test_frozen_training_on_cached_features_validates_like_the_uncached_path(
    synth_dir: Path, tmp_path: Path, augment: tuple[str, ...], crops: int
) -> None:
    # With a view policy of crops, both paths validate on the mean of the global view and the crops.
    config = TrainConfig(
        data_dir=str(synth_dir), out_dir=str(tmp_path / "run"), backbone="efficientnet_lite0",
        pretrained=True, freeze="all", input_size=64, embedding_dim=16, epochs=3,
        artists_per_batch=3, paintings_per_artist=3, val_fraction=0.3, val_pairs=200,
        augment=augment, view_crops=crops, workers=1, lr=3e-3, patience=50,
        feature_cache=str(tmp_path / "cache"),
    )  # fmt: skip
    result = train(config)
    assert result.epochs_run == 3
    assert list((tmp_path / "cache").glob("features-*.npz"))
    # The trained encoder, run in full on the images (no cache), validates to the same AUC.
    state = Checkpoint.load(tmp_path / "run" / "last.pt")
    encoder = state.restore_encoder()
    data = _prepare_data(replace(config, out_dir=str(tmp_path / "other")))
    validation = _validate(encoder, data, torch.device("cpu"), workers=0)
    # With crops the cache's global view is decoded for the input size (JPEG draft) and the full
    # path's from the larger crop-size decode: the same picture, resampled a little differently.
    assert validation.auc == pytest.approx(state.val_auc, abs=1e-6 if crops == 0 else 5e-3)
    assert Checkpoint.load(tmp_path / "run" / "last.pt").config["views"] == {
        "crops": crops,
        "crop_scale": 2.0,
    }
    if crops:  # and the views counted: the global view alone validates differently
        global_only = _prepare_data(replace(config, view_crops=0, out_dir=str(tmp_path / "global")))
        alone = _validate(encoder, global_only, torch.device("cpu"), workers=0)
        assert abs(alone.auc - validation.auc) > 1e-3
