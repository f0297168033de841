"""The tiny training run that many tests share: a compact model small enough to train in seconds."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from painter_match.train.config import TrainConfig


def tiny_config(data_dir: Path, out_dir: Path, **changes: object) -> TrainConfig:
    """32 px, 32-d, 2 epochs of 3 artists x 3 paintings a batch; ``changes`` override any field."""
    config = TrainConfig(
        data_dir=str(data_dir),
        out_dir=str(out_dir),
        input_size=32,
        embedding_dim=32,
        epochs=2,
        artists_per_batch=3,
        paintings_per_artist=3,
        val_fraction=0.3,
        val_pairs=200,
        augment=("crop", "flip"),
        workers=1,
        lr=3e-3,
        patience=50,
    )
    return replace(config, **changes)
