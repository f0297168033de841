"""The metadata contract of a painter-match ONNX model: `ModelInfo`, and how it is read and checked.

Export writes one JSON document under the ``painter_match`` key of the model's
``metadata_props``; everything inference needs (input size, resize policy, calibration, the
default view policy) is read back from there, so a client needs only the ``.onnx`` file. A
document this version cannot read, or one with a field out of range, is refused as it is parsed
(`ModelInfo.from_json`), with a message that says how to make a model that has one. Opening the
file and checking the graph against the document is `painter_match.inference.model`'s job. No
torch, no onnx.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from painter_match.data.views import Views
from painter_match.errors import PainterMatchError
from painter_match.inference.calibration import Calibration
from painter_match.inference.collection import CollectionPolicy

METADATA_KEY = "painter_match"
SCHEMA_VERSION = 1
RESIZE_POLICY = "shorter_side_bicubic_center_crop"
METRIC = "cosine"
VARIANTS = ("fp32", "int8", "fp16")

# How to get a model with this contract: the end of every message that refuses one.
HOW_TO_MAKE = (
    "make one with `painter-match export CHECKPOINT -o models/painter-match.onnx` "
    '(pip install "painter-match[train]"; from a clone, `make export`)'
)


class ModelError(PainterMatchError):
    """A model file that is missing, unreadable, or does not carry the painter-match contract."""


@dataclass(frozen=True)
class ModelInfo:
    """The metadata every painter-match ONNX model carries (schema version 1).

    Attributes:
        input_size: the square side, in pixels, the graph's ``image`` input takes.
        embedding_dim: the length of the ``embedding`` output (L2-normalised).
        calibration: cosine similarity -> P(same artist), and the decision threshold.
        backbone: the network the encoder was built on.
        variant: fp32, int8 or fp16.
        data_fingerprint: identifies the training data (artists and files).
        val_auc: pair ROC AUC on validation artists never seen in training (fp32 model).
        created: ISO 8601 UTC time of export.
        versions: library versions at export (painter_match, torch, onnx, ...).
        views: the default view policy for ``embed``.
        variant_auc: this variant's validation AUC, measured at export (None when not measured).
        weights: SHA-256 of the trained weights the model was exported from ("" for models
            exported before it was recorded).
        training_artists: `painter_match.data.catalogue.artist_digest` of every artist the model
            was trained on, sorted (empty for models exported before it was recorded): evaluation
            reports AUC for seen and unseen artists only when it is there.
        resize: how pixels are produced; only ``RESIZE_POLICY`` exists so far.
        metric: how embeddings are compared; only ``cosine``.
        schema_version: of this document.
        input_layout, input_dtype: the pixels the graph takes (NHWC uint8 RGB).
        graph_digest: for an int8 model, SHA-256 of its graph (`graph_digest`), computed when the
            file is opened: two int8 exports of one checkpoint calibrated on other images have the
            same weights digest but other quantisation scales, and their vectors differ (by up to
            0.018 measured), so the identity must tell them apart. "" for other variants.
    """

    input_size: int
    embedding_dim: int
    calibration: Calibration
    backbone: str
    variant: str = "fp32"
    data_fingerprint: str = ""
    val_auc: float | None = None
    created: str = ""
    versions: Mapping[str, str] = field(default_factory=dict)
    views: Views = Views()
    variant_auc: float | None = None
    weights: str = ""
    training_artists: tuple[str, ...] = ()
    resize: str = RESIZE_POLICY
    metric: str = METRIC
    schema_version: int = SCHEMA_VERSION
    input_layout: str = "NHWC"
    input_dtype: str = "uint8"
    graph_digest: str = ""
    # The default collection adaptation and its calibration (`painter_match.inference.collection`);
    # None for models exported before it: their embeddings are compared as they are.
    collection: CollectionPolicy | None = None

    @property
    def identity(self) -> str:
        """A short string that changes whenever the embeddings a model produces would change.

        It is made of what the vectors depend on: the weights, the variant they were converted
        to, and the preprocessing (input size, resize policy). Not the export time, so two
        exports of one checkpoint make embeddings that mix. A model exported before the weights
        digest was recorded has only its data fingerprint and export time to go by.
        """
        quantised = f"/q{self.graph_digest[:16]}" if self.graph_digest else ""
        if self.weights:
            preprocessing = f"{self.input_size}px-{self.resize}"
            return f"{self.backbone}/{self.variant}/{self.weights[:16]}/{preprocessing}{quantised}"
        return f"{self.backbone}/{self.variant}/{self.data_fingerprint}/{self.created}{quantised}"

    def to_json(self) -> str:
        data = asdict(self)
        data["calibration"] = self.calibration.to_dict()
        data["versions"] = dict(self.versions)
        data["collection"] = self.collection.to_dict() if self.collection is not None else None
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str = "model") -> ModelInfo:
        """Parse and check the metadata document.

        Raises:
            ModelError: naming ``source`` and the field that is missing or wrong.
        """
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelError(
                f"{source}: painter_match metadata is not valid JSON ({exc}); {HOW_TO_MAKE}"
            ) from None
        if not isinstance(data, dict):
            raise ModelError(f"{source}: painter_match metadata must be a JSON object; {HOW_TO_MAKE}")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ModelError(
                f"{source}: metadata schema version {version!r}, this painter-match reads version "
                f"{SCHEMA_VERSION}; re-export the model with this version ({HOW_TO_MAKE})"
            )
        try:
            info = cls(
                input_size=_positive_int(data, "input_size"),
                embedding_dim=_positive_int(data, "embedding_dim"),
                calibration=Calibration.from_dict(dict(_mapping(data, "calibration"))),
                backbone=str(data["backbone"]),
                variant=str(data.get("variant", "fp32")),
                data_fingerprint=str(data.get("data_fingerprint", "")),
                val_auc=_optional_float(data, "val_auc"),
                created=str(data.get("created", "")),
                versions={str(k): str(v) for k, v in _mapping(data, "versions", {}).items()},
                views=views_from_dict(_mapping(data, "views", {})),
                variant_auc=_optional_float(data, "variant_auc"),
                weights=str(data.get("weights", "")),
                training_artists=_strings(data, "training_artists"),
                resize=str(data.get("resize", RESIZE_POLICY)),
                metric=str(data.get("metric", METRIC)),
                input_layout=str(data.get("input_layout", "NHWC")),
                input_dtype=str(data.get("input_dtype", "uint8")),
                graph_digest=str(data.get("graph_digest", "")),
                collection=(
                    CollectionPolicy.from_dict(_mapping(data, "collection"))
                    if data.get("collection") is not None
                    else None
                ),
            )
        except KeyError as exc:
            raise ModelError(f"{source}: painter_match metadata lacks {exc}; {HOW_TO_MAKE}") from None
        except (TypeError, ValueError) as exc:
            raise ModelError(f"{source}: bad painter_match metadata: {exc}; {HOW_TO_MAKE}") from None
        for name, value, allowed in (
            ("resize", info.resize, (RESIZE_POLICY,)),
            ("metric", info.metric, (METRIC,)),
            ("variant", info.variant, VARIANTS),
            ("input_layout", info.input_layout, ("NHWC",)),
            ("input_dtype", info.input_dtype, ("uint8",)),
        ):
            if value not in allowed:
                raise ModelError(
                    f"{source}: metadata {name} {value!r} is not one of {allowed}; {HOW_TO_MAKE}"
                )
        return info


# Bounds on what a model's metadata may ask for: far beyond any real model, well below what would
# exhaust a machine before the memory check (`painter_match.commands.common.check_memory`) speaks.
MAX_INPUT_SIZE = 4096
MAX_EMBEDDING_DIM = 65536
MAX_VIEW_CROPS = 64  # as --views (`painter_match.commands.common.MAX_CROPS`)
MAX_CROP_SCALE = 16.0


def views_from_dict(data: Mapping[str, Any]) -> Views:
    """The default view policy, checked: a whole number of crops (0 to 64) at a finite scale (1 to 16)."""
    unknown = sorted(set(data) - {"crops", "crop_scale"})
    if unknown:
        raise ValueError(f"views has unknown fields {unknown}")
    crops = data.get("crops", 0)
    scale = data.get("crop_scale", 2.0)
    if not isinstance(crops, int) or isinstance(crops, bool) or not 0 <= crops <= MAX_VIEW_CROPS:
        raise ValueError(f"views crops must be a whole number from 0 to {MAX_VIEW_CROPS}, got {crops!r}")
    if (
        not isinstance(scale, (int, float))
        or isinstance(scale, bool)
        or not math.isfinite(scale)
        or not 1.0 <= scale <= MAX_CROP_SCALE
    ):
        raise ValueError(f"views crop_scale must be a number from 1 to {MAX_CROP_SCALE:g}, got {scale!r}")
    return Views(crops=crops, crop_scale=float(scale))


def _mapping(data: Mapping[str, Any], name: str, default: Any = None) -> Mapping[str, Any]:
    value = data.get(name, default)
    if value is None:
        raise KeyError(name)
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be an object, got {value!r}")
    return value


def _strings(data: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = data.get(name, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{name} must be a list of strings, got {value!r}")
    return tuple(value)


def _positive_int(data: Mapping[str, Any], name: str) -> int:
    value = data[name]
    largest = {"input_size": MAX_INPUT_SIZE, "embedding_dim": MAX_EMBEDDING_DIM}.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if largest is not None and value > largest:
        raise ValueError(f"{name} must be at most {largest}, got {value!r}")
    return value


def _optional_float(data: Mapping[str, Any], name: str) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number or null, got {value!r}")
    return float(value)
