"""Real paintings for export's checks: the checkpoint's validation pairs, calibration and parity images.

The validation pairs are rebuilt with the trainer's own recipe (the training catalogue, filtered
and capped as the run's config says, restricted to the checkpoint's recorded validation
artists, then `sample_pairs` with the run's count and seed), so the fp32 model scores exactly
the pairs its ``val_auc`` was measured on, and the AUC a variant loses is measured against the
same yardstick. Pixels come from `painter_match.images.load_pixels`, the loader inference uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from painter_match.errors import DataError, ImageLoadError
from painter_match.images import find_images, load_pixels
from painter_match.kaggle import DataDirs, pair_positions, run_paintings
from painter_match.progress import progress_bar


@dataclass(frozen=True)
class ValidationPairs:
    """The checkpoint's validation paintings and pairs (``first``/``second`` index ``paths``)."""

    root: Path
    paths: list[str]
    first: np.ndarray
    second: np.ndarray
    same: np.ndarray


def _training_paintings(state: Mapping[str, Any], data_dir: DataDirs) -> tuple[Path, pd.DataFrame]:
    config = state.get("config") or {}
    catalogue, paintings, _ = run_paintings(
        data_dir,
        exclude_artists=config.get("exclude_artists"),
        hold_out_fold=config.get("hold_out_fold"),
        min_paintings=int(config.get("min_paintings", 2)),
        max_per_artist=config.get("max_per_artist"),
        seed=int(config.get("seed", 0)),
    )
    return catalogue.root, paintings


def validation_pairs(state: Mapping[str, Any], data_dir: DataDirs) -> ValidationPairs:
    """The pairs the trainer validated this checkpoint on, read from ``data_dir``.

    Raises:
        DataError: when the folder is unreadable or holds none of the checkpoint's validation artists.
    """
    config = state.get("config") or {}
    val_artists = set(state.get("val_artists") or [])
    root, paintings = _training_paintings(state, data_dir)
    # The trainer's split keeps table order within the validation part; so does this filter.
    val = paintings[paintings["artist"].isin(val_artists)].reset_index(drop=True)
    if val["artist"].nunique() < 2:
        raise DataError(
            f"{data_dir}: holds {val['artist'].nunique()} of the checkpoint's {len(val_artists)} validation "
            "artists; pass --data with the folder the model was trained on"
        )
    pairs = pair_positions(val, int(config.get("val_pairs", 3000)), seed=int(config.get("seed", 0)))
    return ValidationPairs(
        root=root,
        paths=list(val["path"]),
        first=pairs["i"].to_numpy(np.int64),
        second=pairs["j"].to_numpy(np.int64),
        same=pairs["same"].to_numpy(bool),
    )


def training_images(state: Mapping[str, Any], data_dir: DataDirs, limit: int, seed: int = 0) -> list[Path]:
    """Up to ``limit`` paintings of the training artists, at random: int8 calibration images.

    Calibrating on training artists keeps the validation artists, on which the variant's AUC is
    judged, unseen by every step that fitted the model.
    """
    root, paintings = _training_paintings(state, data_dir)
    train = paintings[paintings["artist"].isin(set(state.get("train_artists") or []))]
    if train.empty:
        train = paintings
    chosen = np.random.default_rng(seed).permutation(len(train))[:limit]
    return [root / train["path"].iloc[int(i)] for i in sorted(chosen)]


def folder_images(folder: Path, limit: int, seed: int = 0) -> list[Path]:
    """Up to ``limit`` image files under ``folder`` (any layout), at random but reproducibly.

    Raises:
        DataError: when the folder is missing or holds no image.
    """
    found = find_images(folder)
    if not found:
        raise DataError(f"{folder}: no image files found (looked for .jpg, .png, .webp, ...)")
    chosen = np.random.default_rng(seed).permutation(len(found))[:limit]
    return [found[int(i)] for i in sorted(chosen)]


def load_images(
    files: Sequence[Path], size: int, *, description: str = "loading paintings", quiet: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Decode files to the model's input: ``(pixels uint8 [n, size, size, 3], indices [n])``.

    Files that cannot be decoded are left out (``indices`` says which were kept), as training
    and evaluation do.
    """
    pixels, kept = [], []
    with progress_bar(description, len(files), quiet=quiet, unit="images") as bar:
        for index, path in enumerate(files):
            try:
                pixels.append(load_pixels(path, size))
                kept.append(index)
            except ImageLoadError:
                pass
            bar.advance()
    if not pixels:
        return np.empty((0, size, size, 3), np.uint8), np.empty(0, np.int64)
    return np.stack(pixels), np.asarray(kept, np.int64)
