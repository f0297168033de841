"""Which ONNX model a command uses, and the open onnxruntime session that runs it.

`resolve_model` is the one rule for which model a command or ``load()`` uses (``-m``,
``$PAINTER_MATCH_MODEL``, ``./models/painter-match.onnx``, the packaged default); `open_model`
opens it once for a whole run, reads its metadata (`painter_match.inference.model_info.ModelInfo`,
re-exported here with the rest of that contract) and checks the graph's tensors against it. A
model without that document, or with one this version cannot read, is refused with a message that
says how to make one. numpy and onnxruntime only: no torch, no onnx.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from painter_match.inference.model_info import (
    HOW_TO_MAKE,
    MAX_CROP_SCALE,
    MAX_EMBEDDING_DIM,
    MAX_INPUT_SIZE,
    MAX_VIEW_CROPS,
    METADATA_KEY,
    METRIC,
    RESIZE_POLICY,
    SCHEMA_VERSION,
    VARIANTS,
    ModelError,
    ModelInfo,
    views_from_dict,
)
from painter_match.input_files import input_file_problem, pipe_advice

__all__ = [
    "DEFAULT_MODEL_PATH",
    "INPUT_NAME",
    "MAX_CROP_SCALE",
    "MAX_EMBEDDING_DIM",
    "MAX_INPUT_SIZE",
    "MAX_VIEW_CROPS",
    "METADATA_KEY",
    "METRIC",
    "MODEL_ENV",
    "MODEL_NAME",
    "OUTPUT_NAME",
    "PROVIDERS",
    "RESIZE_POLICY",
    "SCHEMA_VERSION",
    "VARIANTS",
    "LoadedModel",
    "ModelChoice",
    "ModelError",
    "ModelInfo",
    "Rule",
    "graph_digest",
    "open_model",
    "packaged_model_path",
    "read_info",
    "resolve_model",
    "resolve_providers",
    "views_from_dict",
]

INPUT_NAME = "image"
OUTPUT_NAME = "embedding"
MODEL_NAME = "painter-match.onnx"
DEFAULT_MODEL_PATH = Path("models") / MODEL_NAME
MODEL_ENV = "PAINTER_MATCH_MODEL"
PROVIDERS = ("auto", "cpu", "cuda", "tensorrt")

# Providers whose tensors live on a device, where I/O binding saves copies (`LoadedModel.run_bound`).
_DEVICE_PROVIDERS = ("CUDAExecutionProvider", "TensorrtExecutionProvider")

_ORT_PROVIDERS = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}


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
        f"install has no packaged default model either; {HOW_TO_MAKE}"
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
            f"{source} is not a painter-match model (no '{METADATA_KEY}' metadata); {HOW_TO_MAKE}"
        )
    info = ModelInfo.from_json(metadata[METADATA_KEY], source)
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name for o in session.get_outputs()}
    if INPUT_NAME not in inputs or OUTPUT_NAME not in outputs:
        raise ModelError(
            f"{source}: the graph must take '{INPUT_NAME}' and give '{OUTPUT_NAME}', it takes "
            f"{sorted(inputs)} and gives {sorted(outputs)}; {HOW_TO_MAKE}"
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
            f"{HOW_TO_MAKE}"
        )
    D = info.embedding_dim
    if len(embedding) != 2 or _fixed(embedding[1], D):
        raise ModelError(
            f"{source}: the metadata says embedding_dim {D} ([batch, {D}]), but the graph's "
            f"'{OUTPUT_NAME}' output is {_shape_text(embedding)}; the metadata does not belong to this "
            f"graph: {HOW_TO_MAKE}"
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
        raise ModelError(f"{path}: not an ONNX model file ({error}); {HOW_TO_MAKE}") from None
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
            else f"{HOW_TO_MAKE}, or pass -m/--model"
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
        raise ModelError(f"{model_path}: onnxruntime cannot load it ({message}); {HOW_TO_MAKE}") from None
    info = read_info(session, str(model_path))
    if info.variant == "int8":
        info = replace(info, graph_digest=graph_digest(model_path))
    used = session.get_providers()[0]
    return LoadedModel(path=model_path, session=session, info=info, provider=used, choice=choice)
