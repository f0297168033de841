"""Training options and the names they may take: plain Python, no torch.

The command line builds its parser from these defaults without importing torch, so
`painter-match train --help` is instant and always states the defaults the trainer really uses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

BACKBONES = ("compact", "resnet18", "resnet34", "resnet50")
LOSSES = ("triplet", "contrastive", "pair", "proxy")
AUGMENTATIONS = ("crop", "flip", "affine", "color", "grey", "perspective", "blur")
# Measured best on the synthetic painters (README, "Training results"); crops matter more for
# full-size real paintings, where brushwork is finer than the input resolution.
DEFAULT_AUGMENT = ("flip", "color", "grey")


def parse_augment(text: str) -> tuple[str, ...]:
    """``"crop,flip"`` -> ("crop", "flip"); ``"none"`` -> ().

    Raises:
        ValueError: naming an unknown augmentation and listing the known ones.
    """
    if text.strip().lower() in {"", "none"}:
        return ()
    names = tuple(name.strip().lower() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in AUGMENTATIONS]
    if unknown:
        raise ValueError(
            f"unknown augmentation {unknown[0]!r}; choose from {', '.join(AUGMENTATIONS)} or 'none'"
        )
    return names


@dataclass
class TrainConfig:
    """Every training option; stored in the checkpoint so a resumed run uses the same ones."""

    data_dir: str
    out_dir: str
    backbone: str = "compact"
    pretrained: bool = False
    embedding_dim: int = 256
    input_size: int = 96
    dropout: float = 0.0
    loss: str = "proxy"
    margin: float | None = None
    epochs: int = 20
    artists_per_batch: int = 8
    paintings_per_artist: int = 4
    optimizer: str = "adamw"
    lr: float = 2e-3
    weight_decay: float = 5e-4
    warmup_epochs: int = 1
    grad_clip: float = 5.0
    val_fraction: float = 0.25
    val_pairs: int = 3000
    min_paintings: int = 2
    max_per_artist: int | None = None
    augment: tuple[str, ...] = DEFAULT_AUGMENT
    patience: int = 10
    workers: int = 2
    seed: int = 0
    amp: bool = True
    device: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["augment"] = list(self.augment)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["augment"] = tuple(values.get("augment", DEFAULT_AUGMENT))
        return cls(**values)
