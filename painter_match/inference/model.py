"""The ONNX model contract: what an exported model carries, which model a command uses, and how it opens.

Export writes one JSON document under the ``painter_match`` key of the model's
``metadata_props``; everything inference needs (input size, resize policy, calibration, the
default view policy) is read back from there, so a client needs only the ``.onnx`` file. A model
without that document, or with one this version cannot read, is refused with a message that says
how to make one. `resolve_model` is the one rule for which model a command or ``load()`` uses
(``-m``, ``$PAINTER_MATCH_MODEL``, ``./models/painter-match.onnx``, the packaged default). numpy
and onnxruntime only: no torch, no onnx.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from painter_match.data.views import Views
from painter_match.errors import PainterMatchError
from painter_match.inference.calibration import Calibration
from painter_match.inference.collection import CollectionPolicy
from painter_match.input_files import input_file_problem, pipe_advice

METADATA_KEY = "painter_match"
SCHEMA_VERSION = 1
INPUT_NAME = "image"
OUTPUT_NAME = "embedding"
RESIZE_POLICY = "shorter_side_bicubic_center_crop"
METRIC = "cosine"
VARIANTS = ("fp32", "int8", "fp16")
MODEL_NAME = "painter-match.onnx"
DEFAULT_MODEL_PATH = Path("models") / MODEL_NAME
MODEL_ENV = "PAINTER_MATCH_MODEL"
PROVIDERS = ("auto", "cpu", "cuda", "tensorrt")

_HOW_TO_MAKE = (
    "make one with `painter-match export CHECKPOINT -o models/painter-match.onnx` "
    '(pip install "painter-match[train]"; from a clone, `make export`)'
)

# Providers whose tensors live on a device, where I/O binding saves copies (`LoadedModel.run_bound`).
_DEVICE_PROVIDERS = ("CUDAExecutionProvider", "TensorrtExecutionProvider")

_ORT_PROVIDERS = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}


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
                f"{source}: painter_match metadata is not valid JSON ({exc}); {_HOW_TO_MAKE}"
            ) from None
        if not isinstance(data, dict):
            raise ModelError(f"{source}: painter_match metadata must be a JSON object; {_HOW_TO_MAKE}")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ModelError(
                f"{source}: metadata schema version {version!r}, this painter-match reads version "
                f"{SCHEMA_VERSION}; re-export the model with this version ({_HOW_TO_MAKE})"
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
            raise ModelError(f"{source}: painter_match metadata lacks {exc}; {_HOW_TO_MAKE}") from None
        except (TypeError, ValueError) as exc:
            raise ModelError(f"{source}: bad painter_match metadata: {exc}; {_HOW_TO_MAKE}") from None
        for name, value, allowed in (
            ("resize", info.resize, (RESIZE_POLICY,)),
            ("metric", info.metric, (METRIC,)),
            ("variant", info.variant, VARIANTS),
            ("input_layout", info.input_layout, ("NHWC",)),
            ("input_dtype", info.input_dtype, ("uint8",)),
        ):
            if value not in allowed:
                raise ModelError(
                    f"{source}: metadata {name} {value!r} is not one of {allowed}; {_HOW_TO_MAKE}"
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


Rule = Literal["-m", "env", "./models", "packaged"]
_RULE_TEXT = {
    "-m": "given with -m/--model",
    "env": f"from ${MODEL_ENV}",
    "./models": f"{DEFAULT_MODEL_PATH} in the current folder",
    "packaged": "the default model installed with painter-match",
}


@dataclass(frozen=True)
class ModelChoice:
    """Which model file to open, and the rule that chose it (see `resolve_model`)."""

    path: Path
    rule: Rule

    @property
    def rule_text(self) -> str:
        """The rule in words, for a note on stderr."""
        return _RULE_TEXT[self.rule]


def packaged_model_path() -> Path | None:
    """The default model installed inside the package (``painter_match/models/``), or None."""
    from importlib import resources

    candidate = resources.files("painter_match") / "models" / MODEL_NAME
    if not candidate.is_file():
        return None
    return Path(str(candidate))


def resolve_model(path: str | Path | ModelChoice | None = None) -> ModelChoice:
    """The one rule for which model is used: ``path`` (``-m``), else ``$PAINTER_MATCH_MODEL``, else
    ``models/painter-match.onnx`` in the current folder when it exists, else the packaged default
    (found with importlib.resources, so it works from a wheel).

    Nothing is opened here: a chosen file that is missing is `open_model`'s error to report. A
    `ModelChoice` is returned as it is (so its rule is what messages name).

    Raises:
        ModelError: no rule gives a model; the message says how to get one.
    """
    if isinstance(path, ModelChoice):
        return path
    if path is not None:
        return ModelChoice(Path(path), "-m")
    from_env = os.environ.get(MODEL_ENV)
    if from_env:
        return ModelChoice(Path(from_env), "env")
    if DEFAULT_MODEL_PATH.is_file():
        return ModelChoice(DEFAULT_MODEL_PATH, "./models")
    packaged = packaged_model_path()
    if packaged is not None:
        return ModelChoice(packaged, "packaged")
    raise ModelError(
        f"no model given: pass -m MODEL.onnx, set ${MODEL_ENV}, or put one at {DEFAULT_MODEL_PATH}; this "
        f"install has no packaged default model either; {_HOW_TO_MAKE}"
    )


def resolve_providers(requested: str, available: Sequence[str]) -> list[str]:
    """The onnxruntime execution providers for ``--provider``, best first.

    ``auto`` takes CUDA when onnxruntime offers it, else the CPU. An explicit GPU provider that
    this onnxruntime lacks is an error that names the package to install.

    Raises:
        ModelError: for an unknown provider, or a GPU provider onnxruntime does not have.
    """
    requested = requested.lower()
    if requested not in PROVIDERS:
        raise ModelError(f"unknown provider {requested!r}; choose from {', '.join(PROVIDERS)}")
    if requested == "auto":
        if _ORT_PROVIDERS["cuda"] in available:
            return [_ORT_PROVIDERS["cuda"], _ORT_PROVIDERS["cpu"]]
        return [_ORT_PROVIDERS["cpu"]]
    name = _ORT_PROVIDERS[requested]
    if name not in available:
        # Which command fixes it depends on what pip left here (ort_builds: both builds installed
        # at once leave the CPU build's files on top, and the extra's own command would not help).
        from painter_match.inference.ort_builds import gpu_advice

        raise ModelError(
            f"provider {requested!r} is not available in this onnxruntime (it has {', '.join(available)}); "
            f"{gpu_advice(available)}"
        )
    if requested == "tensorrt":
        return [name, _ORT_PROVIDERS["cuda"], _ORT_PROVIDERS["cpu"]]
    if requested == "cuda":
        return [name, _ORT_PROVIDERS["cpu"]]
    return [name]


@dataclass
class LoadedModel:
    """An onnxruntime session and the contract it was checked against.

    Attributes:
        path: the ``.onnx`` file.
        session: the onnxruntime session, reused for every call.
        info: the contract read from the file.
        provider: the execution provider that runs it.
        choice: which rule chose the file (`resolve_model`).
    """

    path: Path
    session: Any
    info: ModelInfo
    provider: str
    choice: ModelChoice | None = None
    io_binding: bool | None = None
    _outputs: dict[int, Any] = field(default_factory=dict, repr=False)

    def record(self) -> dict[str, object]:
        """The model facts every ``--json`` result carries: which file, by which rule, what it is."""
        return {
            "path": str(self.path),
            "rule": self.choice.rule if self.choice is not None else "-m",
            "identity": self.info.identity,
            "provider": self.provider,
            "backbone": self.info.backbone,
            "variant": self.info.variant,
        }

    def run(self, pixels: Any) -> Any:
        """uint8 [N, S, S, 3] -> float32 [N, D] unit embeddings.

        On CUDA and TensorRT (``io_binding`` None means: when one of them runs the model) the
        call goes through `run_bound`; elsewhere through ``session.run``.
        """
        bound = self.io_binding if self.io_binding is not None else self.provider in _DEVICE_PROVIDERS
        if bound:
            return self.run_bound(pixels)
        return self.session.run([OUTPUT_NAME], {INPUT_NAME: pixels})[0]

    def run_bound(self, pixels: Any) -> Any:
        """`run` through onnxruntime's I/O binding: the pixels copied to the provider's device once
        as an OrtValue, the output written into a buffer allocated there once per batch size and
        reused, so onnxruntime makes no copies or allocations of its own around the call."""
        import numpy as np
        import onnxruntime as ort

        device = "cuda" if self.provider in _DEVICE_PROVIDERS else "cpu"
        pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
        rows = int(pixels.shape[0])
        output = self._outputs.get(rows)
        if output is None:
            output = ort.OrtValue.ortvalue_from_shape_and_type(
                [rows, self.info.embedding_dim], np.float32, device, 0
            )
            self._outputs = {rows: output}  # the last batch size only: the common one, and little memory
        binding = self.session.io_binding()
        binding.bind_ortvalue_input(INPUT_NAME, ort.OrtValue.ortvalue_from_numpy(pixels, device, 0))
        binding.bind_ortvalue_output(OUTPUT_NAME, output)
        self.session.run_with_iobinding(binding)
        result = output.numpy()  # from a device: a copy to the host
        # On the CPU the array may be the reused buffer itself, which the next call overwrites.
        return result.copy() if device == "cpu" else result


def read_info(session: Any, source: str) -> ModelInfo:
    """The contract of an open onnxruntime session, with its inputs and outputs checked.

    Raises:
        ModelError: when the metadata is absent or bad, or the graph's tensors do not match it.
    """
    metadata = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in metadata:
        raise ModelError(
            f"{source} is not a painter-match model (no '{METADATA_KEY}' metadata); {_HOW_TO_MAKE}"
        )
    info = ModelInfo.from_json(metadata[METADATA_KEY], source)
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name for o in session.get_outputs()}
    if INPUT_NAME not in inputs or OUTPUT_NAME not in outputs:
        raise ModelError(
            f"{source}: the graph must take '{INPUT_NAME}' and give '{OUTPUT_NAME}', it takes "
            f"{sorted(inputs)} and gives {sorted(outputs)}; {_HOW_TO_MAKE}"
        )
    if inputs[INPUT_NAME].type != "tensor(uint8)":
        raise ModelError(f"{source}: input '{INPUT_NAME}' must be uint8, it is {inputs[INPUT_NAME].type}")
    output = next(o for o in session.get_outputs() if o.name == OUTPUT_NAME)
    _check_shapes(source, info, list(inputs[INPUT_NAME].shape or []), list(output.shape or []))
    return info


def _check_shapes(source: str, info: ModelInfo, image: list[Any], embedding: list[Any]) -> None:
    """Refuse metadata that disagrees with the graph's tensor shapes, where the graph fixes them.

    The batch axis is dynamic by contract; a graph with symbolic sides or width is taken on trust.

    Raises:
        ModelError: naming the field, its value and the graph's shape.
    """
    S = info.input_size
    if len(image) != 4 or _fixed(image[3], 3) or _fixed(image[1], S) or _fixed(image[2], S):
        raise ModelError(
            f"{source}: the metadata says input_size {S} ([batch, {S}, {S}, 3] uint8), but the graph's "
            f"'{INPUT_NAME}' input is {_shape_text(image)}; the metadata does not belong to this graph: "
            f"{_HOW_TO_MAKE}"
        )
    D = info.embedding_dim
    if len(embedding) != 2 or _fixed(embedding[1], D):
        raise ModelError(
            f"{source}: the metadata says embedding_dim {D} ([batch, {D}]), but the graph's "
            f"'{OUTPUT_NAME}' output is {_shape_text(embedding)}; the metadata does not belong to this "
            f"graph: {_HOW_TO_MAKE}"
        )


def _fixed(dimension: Any, expected: int) -> bool:
    """True when the graph fixes ``dimension`` to a size other than ``expected``."""
    return isinstance(dimension, int) and dimension > 0 and dimension != expected


def _shape_text(shape: list[Any]) -> str:
    return "[" + ", ".join(str(d) if d is not None else "?" for d in shape) + "]"


def graph_digest(path: str | Path) -> str:
    """SHA-256 of what an ONNX file computes: its graph, opset imports and functions, not its
    metadata (so re-exporting the same model with another export time or note changes nothing).

    Reads the top level of the ``ModelProto`` protobuf by hand (numpy and onnxruntime only: no
    onnx package): fields 7 (graph), 8 (opset_import) and 25 (functions) are hashed as stored.

    Raises:
        ModelError: the file is not a protobuf message.
    """
    data = Path(path).read_bytes()
    digest = hashlib.sha256()
    position = 0
    try:
        while position < len(data):
            key, position = _varint(data, position)
            number, wire = key >> 3, key & 7
            start = position
            if wire == 0:
                _, position = _varint(data, position)
            elif wire == 1:
                position += 8
            elif wire == 2:
                length, position = _varint(data, position)
                start = position
                position += length
            elif wire == 5:
                position += 4
            else:
                raise ValueError(f"wire type {wire}")
            if position > len(data):
                raise ValueError("truncated")
            if number in (7, 8, 25):
                digest.update(number.to_bytes(2, "big") + (position - start).to_bytes(8, "big"))
                digest.update(data[start:position])
    except ValueError as error:
        raise ModelError(f"{path}: not an ONNX model file ({error}); {_HOW_TO_MAKE}") from None
    return digest.hexdigest()


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if position >= len(data) or shift > 63:
            raise ValueError("bad varint")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position


def open_model(
    path: str | Path | ModelChoice | None = None,
    *,
    provider: str = "auto",
    threads: int | None = None,
) -> LoadedModel:
    """Open a painter-match ONNX model once, for a whole run.

    Args:
        path: the ``.onnx`` file; None means the one `resolve_model` chooses; a `ModelChoice`
            (from `resolve_model`) keeps the rule that chose it for the messages.
        provider: one of ``PROVIDERS``.
        threads: intra-op threads; None lets onnxruntime use every core.

    Raises:
        ModelError: a missing file, a file onnxruntime cannot load, or a model without the contract.
    """
    import onnxruntime as ort  # imported here so that `painter-match --help` stays instant

    choice = resolve_model(path)
    model_path = choice.path
    problem = input_file_problem(model_path)
    if problem == "is a folder":
        raise ModelError(
            f"model {model_path} ({choice.rule_text}) is a folder; pass the .onnx file itself "
            "(-m FOLDER/NAME.onnx)"
        )
    if problem is not None:
        # Say which rule chose the file: a stale $PAINTER_MATCH_MODEL is fixed there, not with -m.
        remedy = (
            f"set ${MODEL_ENV} to an existing .onnx file or unset it"
            if choice.rule == "env"
            else f"{_HOW_TO_MAKE}, or pass -m/--model"
        )
        raise ModelError(f"model {model_path} ({choice.rule_text}) {problem}{pipe_advice(problem)}; {remedy}")
    providers = resolve_providers(provider, ort.get_available_providers())
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3  # the CLI reports what matters; ORT's warnings are noise here
    try:
        session = ort.InferenceSession(str(model_path), sess_options=options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own untyped errors for every bad file
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{model_path}: onnxruntime cannot load it ({message}); {_HOW_TO_MAKE}") from None
    info = read_info(session, str(model_path))
    if info.variant == "int8":
        info = replace(info, graph_digest=graph_digest(model_path))
    used = session.get_providers()[0]
    return LoadedModel(path=model_path, session=session, info=info, provider=used, choice=choice)
