"""A run's paintings: its `TrainConfig` turned into the training and validation sets.

`_prepare_data` picks the run's paintings through the data layer, holds out whole artists for
validation and builds the two datasets and the validation pairs; `data_fingerprint` names which
paintings a model was trained on. With the whole (Lite) backbone frozen, `_cache_features` runs
the backbone once per painting and view (`painter_match.train.feature_cache`) and the head trains,
and validates, on the stored features (`_Cached`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from painter_match.data.pairs import Pairs, balanced_pairs
from painter_match.data.selection import run_paintings, split_by_artist
from painter_match.data.views import Views, crop_side
from painter_match.errors import DataError
from painter_match.train.augment import EvalTransform, ViewsTransform, load_side, train_transform
from painter_match.train.backbones import Encoder
from painter_match.train.config import TrainConfig
from painter_match.train.data import ArtistBatchSampler, PaintingDataset, label_codes
from painter_match.train.feature_cache import build_feature_cache, cached_view_names


def data_fingerprint(paintings: pd.DataFrame) -> str:
    """A short hash of which paintings (and artists) a model was trained on."""
    digest = hashlib.sha256()
    for path, artist in sorted(zip(paintings["path"], paintings["artist"])):
        digest.update(f"{path}\t{artist}\n".encode())
    return digest.hexdigest()[:16]


@dataclass
class _Data:
    train: pd.DataFrame
    val: pd.DataFrame
    train_artists: list[str]
    train_set: PaintingDataset
    val_set: PaintingDataset
    val_pairs: Pairs  # indices into val
    missing: int  # listed paintings whose files are not on disk (left out)


def _prepare_data(config: TrainConfig) -> _Data:
    catalogue, paintings, missing = run_paintings(
        config.folders(),
        exclude_artists=config.exclude_artists,
        hold_out_fold=config.hold_out_fold,
        min_paintings=config.min_paintings,
        max_per_artist=config.max_per_artist,
        seed=config.seed,
    )
    if paintings["artist"].nunique() < 3:
        raise DataError(
            f"{', '.join(config.folders())}: training needs at least 3 artists with {config.min_paintings}+ paintings "
            f"(2 to train on, 1 to validate); found {paintings['artist'].nunique()}"
        )
    split = split_by_artist(paintings, val_fraction=config.val_fraction, seed=config.seed)
    labels, artists = label_codes(list(split.train["artist"]))
    root = catalogue.root
    side = load_side(config.input_size)
    train_set = PaintingDataset(
        root,
        list(split.train["path"]),
        labels,
        train_transform(config.input_size, config.augment),
        load_side=side,
    )
    val_labels, _ = label_codes(list(split.val["artist"]))
    # Validation sees what `embed` will with the model's default views, so that the AUC that picks
    # the best epoch and the calibration fitted on it hold for the exported model as users run it.
    views = Views(**config.views())
    val_set = PaintingDataset(
        root,
        list(split.val["path"]),
        val_labels,
        ViewsTransform(config.input_size, views) if views.crops else EvalTransform(config.input_size),
        load_side=crop_side(config.input_size, views) if views.crops else config.input_size,
    )
    val_pairs = balanced_pairs(root, split.val, config.val_pairs, seed=config.seed)
    return _Data(split.train, split.val, artists, train_set, val_set, val_pairs, missing)


@dataclass
class _Cached:
    """Frozen-backbone features of the training paintings (every stored view) and validation ones."""

    train: torch.Tensor  # [n_train, V, D]
    train_readable: np.ndarray  # [n_train] bool
    val: torch.Tensor  # [n_val, V_val, D]: the global view, and the default view policy's crops if stored
    val_readable: np.ndarray  # [n_val] bool
    val_failures: list[tuple[int, str]]


def _cache_features(
    config: TrainConfig,
    encoder: Encoder,
    data: _Data,
    device: torch.device,
    progress: Callable[[str, int], Any] | None,
    say: Callable[[str], None],
    skipped: dict[str, str],
    sampler: ArtistBatchSampler,
) -> _Cached:
    views = Views(**config.views())
    names = cached_view_names(config.augment, views)
    root = data.train_set.root
    paths = data.train_set.paths + data.val_set.paths
    started = time.perf_counter()
    bar_context = progress("backbone features (once)", len(paths)) if progress else None
    bar = bar_context.__enter__() if bar_context else None
    try:
        cache = build_feature_cache(
            encoder,
            root,
            paths,
            view_names=names,
            views=views,
            device=device,
            cache_dir=Path(config.feature_cache) if config.feature_cache else None,
            advance=bar.advance if bar is not None else None,
        )
    finally:
        if bar_context is not None:
            bar_context.__exit__(None, None, None)
    n_train = len(data.train_set.paths)
    train_failures = [(i, cause) for i, cause in cache.failures if i < n_train]
    for index, cause in train_failures:
        skipped[data.train_set.paths[index]] = cause
    sampler.exclude([i for i, _ in train_failures])
    say(
        f"backbone features of {len(paths)} paintings x {len(names)} views ({', '.join(names)}) "
        f"in {time.perf_counter() - started:.0f}s; the head trains on them"
    )
    # Validation averages the views `embed` will (global + the policy's crops) where they are
    # stored, i.e. with crop augmentation; otherwise the global view stands for them.
    val_views = [0] + [names.index(f"crop{i}") for i in range(1, views.crops + 1) if f"crop{i}" in names]
    return _Cached(
        train=torch.from_numpy(cache.features[:n_train]).to(device),
        train_readable=cache.readable[:n_train],
        val=torch.from_numpy(cache.features[n_train:][:, val_views]).to(device),
        val_readable=cache.readable[n_train:],
        val_failures=[(i - n_train, cause) for i, cause in cache.failures if i >= n_train],
    )
