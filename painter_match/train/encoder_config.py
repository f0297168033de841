"""An encoder's architecture as plain JSON, and the encoder rebuilt from it.

`encoder_config` describes what a checkpoint needs to be restored without knowing how the encoder
was built (backbone, sizes, input normalisation, and for an EfficientNet-Lite its features);
`encoder_from_config` checks such a description field by field and builds the architecture again
(`painter_match.train.backbones.build_encoder`), with fresh weights for ``load_state_dict``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from painter_match.train.config import BACKBONES, LITE_BACKBONES
from painter_match.train.efficientnet_lite import HEAD_CHANNELS, TAPS, LiteFeatures
from painter_match.train.encoder import Encoder

_CONFIG_FIELDS = ("backbone", "embedding_dim", "input_size", "mean", "std")
# Only the EfficientNet-Lites have these (and always both): which features, from which depths.
_LITE_FIELDS = ("features", "taps")


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
    # Imported when called, not at the top: backbones re-exports this module's functions, so each
    # module importing the other at the top would be a cycle.
    from painter_match.train.backbones import LITE_HIDDEN, build_encoder

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
