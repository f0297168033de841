"""Image transforms for training (augmented) and evaluation (exactly what inference does).

Evaluation uses the project loader's own resize-shorter-side and centre crop, so validation
scores are the scores the exported model will get. Training takes random crops of the painting
at its own proportions rather than squashing it, keeping brushwork at the scale it was painted;
each augmentation can be switched off by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import v2

from painter_match.data.images import center_crop, resize_shorter_side
from painter_match.data.photographed import TRAINING_RANGES, photograph
from painter_match.data.views import Views, image_views
from painter_match.train.config import AUGMENTATIONS, DEFAULT_AUGMENT, parse_augment

__all__ = [
    "AUGMENTATIONS",
    "DEFAULT_AUGMENT",
    "EvalTransform",
    "ViewsTransform",
    "load_side",
    "parse_augment",
    "train_transform",
]

# How much larger than the input the painting is decoded for training: a crop of a third of
# the painting's area then still has the detail of the input size.
LOAD_SCALE = 1.5


def to_tensor(image: Image.Image) -> torch.Tensor:
    """RGB PIL image -> float32 [3, H, W] in [0, 1]."""
    array = np.asarray(image, dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255.0)


def load_side(input_size: int) -> int:
    """The shorter side paintings are decoded at for training."""
    return int(round(input_size * LOAD_SCALE))


class EvalTransform:
    """The inference view: shorter side to ``input_size``, centre square, to tensor."""

    def __init__(self, input_size: int) -> None:
        self.input_size = input_size

    def __call__(self, image: Image.Image) -> torch.Tensor:
        return to_tensor(center_crop(resize_shorter_side(image, self.input_size), self.input_size))


class ViewsTransform:
    """Every view of a view policy, stacked ``[1 + crops, 3, S, S]``: the pixels ``embed`` averages
    for a model with that default policy (`painter_match.data.views.image_views`)."""

    def __init__(self, input_size: int, views: Views) -> None:
        self.input_size = input_size
        self.views = views

    def __call__(self, image: Image.Image) -> torch.Tensor:
        pixels = torch.from_numpy(image_views(image, self.input_size, self.views))
        return pixels.permute(0, 3, 1, 2).float().div_(255.0)


class RandomPhotograph:
    """With probability ``p``, the painting photographed (`painter_match.data.photographed`) at
    training's ranges and a strength of 0.25 to 1, drawn from torch's generator so that seeded,
    resumed runs repeat it."""

    def __init__(self, p: float) -> None:
        self.p = p

    def __call__(self, image: Image.Image) -> Image.Image:
        if float(torch.rand(())) >= self.p:
            return image
        strength = 0.25 + 0.75 * float(torch.rand(()))
        seed = int(torch.randint(0, 2**31 - 1, ()))
        return photograph(image, strength, seed, TRAINING_RANGES)


def train_transform(input_size: int, augment: Sequence[str]) -> v2.Compose:
    """The augmented training view, built from torchvision transforms v2."""
    steps: list[Any] = [RandomPhotograph(p=0.5)] if "photo" in augment else []
    steps.append(v2.ToImage())
    if "crop" in augment:
        steps.append(v2.RandomResizedCrop(input_size, scale=(0.3, 1.0), ratio=(3 / 4, 4 / 3), antialias=True))
    else:
        steps += [v2.Resize(input_size, antialias=True), v2.CenterCrop(input_size)]
    if "flip" in augment:
        steps.append(v2.RandomHorizontalFlip())
    if "affine" in augment:
        steps.append(
            v2.RandomApply([v2.RandomAffine(degrees=5, translate=(0.03, 0.03), scale=(0.95, 1.05))], p=0.3)
        )
    if "perspective" in augment:
        steps.append(v2.RandomPerspective(distortion_scale=0.15, p=0.2))
    if "color" in augment:
        # Mild: palette is part of an artist's hand, and photographs of paintings vary in it.
        steps.append(v2.RandomApply([v2.ColorJitter(0.2, 0.2, 0.15, 0.02)], p=0.5))
    if "grey" in augment:
        # Some photographs (and scans) of paintings are greyscale; it also makes the encoder learn
        # brushwork rather than lean on palette alone.
        steps.append(v2.RandomGrayscale(p=0.2))
    if "blur" in augment:
        steps.append(v2.RandomApply([v2.GaussianBlur(3, sigma=(0.1, 1.0))], p=0.15))
    steps.append(v2.ToDtype(torch.float32, scale=True))
    return v2.Compose(steps)
