"""Real paintings for export's checks: the checkpoint's validation pairs, calibration and parity images.

The validation pairs are the ones the trainer stored in the checkpoint (`Checkpoint.validation`),
so the fp32 model scores exactly the pairs its ``val_auc`` was measured on, and the AUC a variant
loses is measured against the same yardstick. A checkpoint saved before the pairs were stored
gets them rebuilt with the trainer's own recipe (the training catalogue, filtered and capped as
the run's config says, restricted to the recorded validation artists, then the balanced sampler
with the run's count and seed). Pixels come from `painter_match.data.images.load_pixels`, the
loader inference uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from painter_match.data.catalogue import DataDirs
from painter_match.data.images import find_images, load_pixels
from painter_match.data.pairs import Pairs, balanced_pairs
from painter_match.data.selection import run_paintings
from painter_match.errors import DataError, ImageLoadError
from painter_match.progress import progress_bar
from painter_match.train.checkpoint import Checkpoint


def _training_paintings(checkpoint: Checkpoint, data_dir: DataDirs) -> tuple[Path, pd.DataFrame]:
    config = checkpoint.config
    catalogue, paintings, _ = run_paintings(
        data_dir,
        exclude_artists=config.get("exclude_artists"),
        hold_out_fold=config.get("hold_out_fold"),
        min_paintings=int(config.get("min_paintings", 2)),
        max_per_artist=config.get("max_per_artist"),
        seed=int(config.get("seed", 0)),
    )
    return catalogue.root, paintings


def validation_pairs(checkpoint: Checkpoint, data_dir: DataDirs) -> Pairs:
    """The pairs the trainer validated this checkpoint on, their images under ``data_dir``.

    Raises:
        DataError: an old checkpoint (no stored pairs) whose folder is unreadable or holds none of
            its validation artists.
    """
    stored = checkpoint.validation_pairs(data_dir)
    if stored is not None:
        return stored
    config = checkpoint.config
    val_artists = set(checkpoint.val_artists)
    root, paintings = _training_paintings(checkpoint, data_dir)
    # The trainer's split keeps table order within the validation part; so does this filter.
    val = paintings[paintings["artist"].isin(val_artists)].reset_index(drop=True)
    if val["artist"].nunique() < 2:
        raise DataError(
            f"{data_dir}: holds {val['artist'].nunique()} of the checkpoint's {len(val_artists)} validation "
            "artists; pass --data with the folder the model was trained on"
        )
    return balanced_pairs(root, val, int(config.get("val_pairs", 3000)), seed=int(config.get("seed", 0)))


def training_images(checkpoint: Checkpoint, data_dir: DataDirs, limit: int, seed: int = 0) -> list[Path]:
    """Up to ``limit`` paintings of the training artists, at random: int8 calibration images.

    Calibrating on training artists keeps the validation artists, on which the variant's AUC is
    judged, unseen by every step that fitted the model.
    """
    root, paintings = _training_paintings(checkpoint, data_dir)
    train = paintings[paintings["artist"].isin(set(checkpoint.train_artists))]
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
