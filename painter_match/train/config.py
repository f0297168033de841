"""Training options and the names they may take: plain Python, no torch.

The command line builds its parser from these defaults without importing torch, so
`painter-match train --help` is instant and always states the defaults the trainer really uses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from painter_match.data.selection import parse_fold

BACKBONES = ("compact", "resnet18", "resnet34", "resnet50", "efficientnet_lite0", "efficientnet_lite2")
# The TensorFlow-trained EfficientNet-Lites: the only backbones with a choice of features and
# with stages to freeze one by one.
LITE_BACKBONES = ("efficientnet_lite0", "efficientnet_lite2")
# "auto" is each backbone's own: style statistics for compact and the EfficientNet-Lites, the
# pooled last layer for the ResNets. On real paintings of unseen artists, frozen ImageNet
# features did better as per-stage channel mean/std than as the pooled last layer.
FEATURES = ("auto", "pooled", "style")
NATIVE_FEATURES = {
    "compact": "style",
    "resnet18": "pooled",
    "resnet34": "pooled",
    "resnet50": "pooled",
    "efficientnet_lite0": "style",
    "efficientnet_lite2": "style",
}
# The EfficientNet-Lites' freezing units, from the input side: stem, stage1..stage7, head conv.
LITE_UNITS = 9
FREEZE_CHOICES = ("none", "all", "stages:N")
LOSSES = ("triplet", "contrastive", "pair", "proxy")
# "photo": the painting photographed (`painter_match.data.photographed`: frame, perspective, glare,
# colour cast, blur, noise, JPEG) at training's own ranges and seeds, not the test copies'.
AUGMENTATIONS = ("crop", "flip", "affine", "color", "grey", "perspective", "blur", "photo")
# Measured best on the synthetic painters (docs/training.md, "Training results"); crops matter more for
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


def parse_freeze(text: str) -> int | None:
    """How much of the backbone trains: the number of trainable units, or None for all of it.

    ``"none"`` freezes nothing (None: a full fine-tune); ``"all"`` freezes the whole backbone
    (0: only the embedding head trains); ``"stages:N"`` trains the last N of the
    EfficientNet-Lite's nine units (stem, stage1..stage7, head conv), so ``"stages:2"`` trains
    stage 7 and the head conv.

    Raises:
        ValueError: naming the value and the allowed spellings.
    """
    value = text.strip().lower() if isinstance(text, str) else text
    if value == "none":
        return None
    if value == "all":
        return 0
    if isinstance(value, str) and value.startswith("stages:"):
        number = value.removeprefix("stages:")
        if number.isdigit() and 0 <= int(number) <= LITE_UNITS:
            return int(number)
    raise ValueError(
        f"unknown freeze {text!r}; choose one of {', '.join(FREEZE_CHOICES)} (N from 0 to {LITE_UNITS})"
    )


def check_features(backbone: str, features: str) -> str:
    """The features `backbone` will pool into, with ``"auto"`` resolved.

    Raises:
        ValueError: an unknown spelling, or a choice the backbone does not offer.
    """
    if features not in FEATURES:
        raise ValueError(f"unknown features {features!r}; choose one of {', '.join(FEATURES)}")
    native = NATIVE_FEATURES.get(backbone)
    if features == "auto" or features == native:
        return native or features
    if backbone not in LITE_BACKBONES:
        raise ValueError(
            f"features {features!r} is not available for backbone {backbone!r}, which pools as {native!r}; "
            f"a choice of features needs one of {', '.join(LITE_BACKBONES)}"
        )
    return features


def check_model_options(backbone: str, *, pretrained: bool, features: str, freeze: str) -> None:
    """Check that the features and freezing asked for fit the backbone and each other.

    Raises:
        ValueError: naming the option, its value and what is allowed.
    """
    check_features(backbone, features)
    trainable = parse_freeze(freeze)
    if trainable is None:
        return
    if not pretrained:
        raise ValueError(
            f"freeze {freeze!r} needs pretrained weights: a frozen untrained backbone only ever "
            "gives random features; add --pretrained or use --freeze none"
        )
    if trainable > 0 and backbone not in LITE_BACKBONES:
        raise ValueError(
            f"freeze {freeze!r} needs one of {', '.join(LITE_BACKBONES)}; backbone {backbone!r} "
            "can only be frozen whole ('all') or not at all ('none')"
        )


@dataclass
class TrainConfig:
    """Every training option; stored in the checkpoint so a resumed run uses the same ones.

    ``features`` is ``auto``, ``pooled`` or ``style`` (see `check_features`); ``freeze`` is
    ``none``, ``all`` or ``stages:N`` (see `parse_freeze`), and anything but ``none`` needs
    ``pretrained``: frozen random weights would only ever give random features.

    ``view_crops`` and ``view_crop_scale`` are the view policy `embed` uses by default (a
    global view plus that many grid crops at that scale; see `painter_match.data.views.Views`): the
    checkpoint stores them as ``config["views"]``, where export reads them into the model's
    metadata; with ``crop`` augmentation and a frozen backbone, the head also trains on those
    crops. ``data_dirs`` lists every training folder when there are several (read as one
    catalogue, `painter_match.data.catalogue.read_catalogue`); ``data_dir`` is then the first of them.
    ``exclude_artists`` names a file of artists (one a line) kept out of training and validation
    altogether, so that they can be evaluated as never-seen artists; ``hold_out_fold`` (``"K/N"``)
    does the same for fold K of N artist-disjoint folds (`painter_match.data.selection.fold_artists`).
    ``feature_cache`` is a folder where frozen-backbone features are kept between runs
    (see `painter_match.train.feature_cache`); ``preset`` records which preset filled in the
    defaults. ``workers`` has the one meaning of ``--workers`` (`painter_match.workers`): images
    decoded at once by PyTorch's loader, 1 being the main process alone; its default is 2 rather
    than one per core because the augmentations a run draws depend on it, and a run should be
    the same on every machine.
    """

    data_dir: str
    out_dir: str
    data_dirs: tuple[str, ...] = ()
    backbone: str = "compact"
    pretrained: bool = False
    features: str = "auto"
    freeze: str = "none"
    embedding_dim: int = 256
    head_hidden: int = 512
    imagenet_weight: float = 0.0
    input_size: int = 96
    dropout: float = 0.0
    loss: str = "proxy"
    margin: float | None = None
    epochs: int = 20
    artists_per_batch: int = 8
    paintings_per_artist: int = 4
    optimizer: str = "adamw"
    lr: float = 2e-3
    backbone_lr_scale: float = 1.0
    freeze_batchnorm: bool = False
    weight_decay: float = 5e-4
    warmup_epochs: int = 1
    grad_clip: float = 5.0
    val_fraction: float = 0.25
    val_pairs: int = 3000
    min_paintings: int = 2
    max_per_artist: int | None = None
    exclude_artists: str | None = None
    hold_out_fold: str | None = None
    augment: tuple[str, ...] = DEFAULT_AUGMENT
    patience: int = 10
    workers: int = 2
    seed: int = 0
    amp: bool = True
    device: str = "auto"
    view_crops: int = 0
    view_crop_scale: float = 2.0
    feature_cache: str | None = None
    preset: str | None = None

    def __post_init__(self) -> None:
        check_model_options(
            self.backbone, pretrained=self.pretrained, features=self.features, freeze=self.freeze
        )
        if self.head_hidden < 0:
            raise ValueError(f"head_hidden must be 0 (a linear head) or more, got {self.head_hidden}")
        if self.head_hidden != 512 and self.backbone not in LITE_BACKBONES:
            raise ValueError(
                f"--head-hidden is for {', '.join(LITE_BACKBONES)}; backbone {self.backbone!r} has its own head"
            )
        if self.imagenet_weight < 0:
            raise ValueError(f"imagenet_weight must be 0 (none) or more, got {self.imagenet_weight}")
        if self.imagenet_weight and (
            self.backbone not in LITE_BACKBONES or parse_freeze(self.freeze) != 0 or self.features == "pooled"
        ):
            # The part is the untrained ImageNet features: a backbone that trains would change them
            # under the statistics it was standardised with.
            raise ValueError(
                f"--imagenet-weight needs {' or '.join(LITE_BACKBONES)} with --pretrained --freeze all "
                "and style features"
            )
        if not 0 < self.backbone_lr_scale <= 1:
            raise ValueError(f"backbone_lr_scale must lie in (0, 1], got {self.backbone_lr_scale}")
        if self.view_crops < 0:
            raise ValueError(f"view_crops must be 0 or more, got {self.view_crops}")
        if self.hold_out_fold is not None:
            parse_fold(self.hold_out_fold)
        if self.view_crop_scale < 1.0:
            raise ValueError(f"view_crop_scale must be at least 1, got {self.view_crop_scale}")
        if self.workers < 1:
            raise ValueError(
                f"workers must be at least 1 (1: decode in the main process), got {self.workers}"
            )

    def folders(self) -> list[str]:
        """Every training folder, in the order given."""
        return list(self.data_dirs) or [self.data_dir]

    def views(self) -> dict[str, Any]:
        """The view policy as `painter_match.data.views.Views` takes it (export reads this mapping)."""
        return {"crops": int(self.view_crops), "crop_scale": float(self.view_crop_scale)}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["augment"] = list(self.augment)
        data["data_dirs"] = list(self.data_dirs)
        data["views"] = self.views()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["augment"] = tuple(values.get("augment", DEFAULT_AUGMENT))
        values["data_dirs"] = tuple(values.get("data_dirs", ()))
        if values.get("workers") == 0:  # saved before --workers had one meaning: the main process
            values["workers"] = 1
        return cls(**values)


# Named sets of defaults; options given on the command line still win. "real" is the recipe
# measured best on real paintings of artists held out from training (docs/results.md,
# third round: 4 artist-disjoint folds of 328 artists): a frozen ImageNet EfficientNet-Lite0 whose
# style statistics feed a head of one hidden layer (BatchNorm, Linear 512, ReLU, dropout, Linear),
# the backbone run once per painting (feature cache), at 224 px (+0.038 over 128 px), trained 6
# epochs with the semi-hard triplet loss on batches of 64 artists x 4 paintings, with a tenth of
# the artists kept for validation and calibration. On the folds the triplet loss took the mean
# from 0.884 (proxy loss, linear head) to 0.898, and the hidden layer to 0.903, each better on
# every fold (with the proxy loss the hidden layer had lost 0.016).
PRESETS: dict[str, dict[str, Any]] = {
    "real": {
        "backbone": "efficientnet_lite0",
        "pretrained": True,
        "freeze": "all",
        "features": "style",
        "input_size": 224,
        "embedding_dim": 256,
        "head_hidden": 512,
        "imagenet_weight": 0.5,
        "dropout": 0.5,
        "loss": "triplet",
        "epochs": 6,
        "lr": 3e-4,
        "weight_decay": 1e-2,
        "patience": 6,
        "artists_per_batch": 64,
        "paintings_per_artist": 4,
        "val_fraction": 0.1,
        "max_per_artist": 120,
        "augment": ("flip",),
        "view_crops": 0,
        "view_crop_scale": 2.0,
    },
}


def apply_preset(values: dict[str, Any], preset: str | None, explicit: set[str]) -> dict[str, Any]:
    """TrainConfig keyword values with a preset's defaults filled in where none was given.

    Args:
        values: the keyword arguments for `TrainConfig` (a command line's, defaults included).
        preset: a name in `PRESETS`, or None for no preset.
        explicit: the names in `values` the user gave explicitly; those are kept as given.

    Raises:
        ValueError: an unknown preset name, listing the known ones.
    """
    if preset is None:
        return dict(values)
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    merged = dict(values)
    for name, value in PRESETS[preset].items():
        if name not in explicit:
            merged[name] = value
    merged["preset"] = preset
    return merged
