"""Tiny painter-match contract models, written as ONNX protobuf bytes with no `onnx` package.

The graph takes ``image`` uint8 ``[batch, S, S, 3]`` and gives ``embedding`` float32
``[batch, D]``, L2-normalised: per-channel mean and standard deviation over the picture, the
mean absolute horizontal and vertical differences (a crude brushwork statistic), the same four
at half resolution, centred and projected by a fixed random matrix. It tells the synthetic
painters apart a little, which is all the command tests need.

The bytes are encoded here by hand (the protobuf wire format of the few ONNX messages used), so
the inference tests run on the inference install, which has onnxruntime but neither torch nor
onnx. tests/inference/test_onnx_models.py, where onnx is installed, builds the same graph with
``onnx.helper`` and checks that both give the same model and that it passes onnx's checker.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from painter_match.data.views import Views
from painter_match.inference.calibration import Calibration
from painter_match.inference.model import METADATA_KEY, ModelInfo

OPSET = 17
IR_VERSION = 8
TEST_CALIBRATION = Calibration(slope=8.0, intercept=-4.0, threshold=0.5, positive_share=0.5, pairs=100)

# onnx.proto's TensorProto.DataType and AttributeProto.AttributeType values used below.
FLOAT, UINT8, INT64 = 1, 2, 7
_ATTR_INT, _ATTR_INTS = 2, 7
_DTYPES = {np.dtype(np.float32): FLOAT, np.dtype(np.uint8): UINT8, np.dtype(np.int64): INT64}


def tiny_info(
    input_size: int = 32,
    dim: int = 16,
    *,
    views: Views | None = None,
    tag: str = "a",
    created: str = "2026-01-01T00:00:00Z",
) -> ModelInfo:
    """The metadata of a tiny test model; ``tag`` changes its identity (its weights digest)."""
    return ModelInfo(
        input_size=input_size,
        embedding_dim=dim,
        calibration=TEST_CALIBRATION,
        backbone="tiny-stats",
        data_fingerprint=f"test-{tag}",
        val_auc=0.5,
        created=created,
        versions={"opset": str(OPSET)},
        views=views or Views(),
        weights=f"{tag}-weights-sha256",
    )


# --- the protobuf wire format (proto2, fields in number order, as protobuf's serializer writes them)


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64s are ten bytes of two's complement
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def _bytes(field: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def make_node(op: str, inputs: list[str], outputs: list[str], **attrs: int | list[int]) -> bytes:
    """A NodeProto, as ``onnx.helper.make_node`` writes it (attributes in name order)."""
    body = b"".join(_bytes(1, name) for name in inputs) + b"".join(_bytes(2, name) for name in outputs)
    body += _bytes(4, op)
    for key, value in sorted(attrs.items()):
        if isinstance(value, list):
            attr = _bytes(1, key) + b"".join(_int(8, v) for v in value) + _int(20, _ATTR_INTS)
        else:
            attr = _bytes(1, key) + _int(3, value) + _int(20, _ATTR_INT)
        body += _bytes(5, attr)
    return body


def from_array(array: np.ndarray, name: str) -> bytes:
    """A TensorProto with raw little-endian data, as ``onnx.numpy_helper.from_array`` writes it."""
    body = b"".join(_int(1, d) for d in array.shape) + _int(2, _DTYPES[array.dtype])
    return (
        body
        + _bytes(8, name)
        + _bytes(9, np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes())
    )


def tensor_value_info(name: str, elem_type: int, shape: list[int | str]) -> bytes:
    """A ValueInfoProto, as ``onnx.helper.make_tensor_value_info`` writes it."""
    dims = b"".join(_bytes(1, _int(1, d) if isinstance(d, int) else _bytes(2, d)) for d in shape)
    tensor_type = _int(1, elem_type) + _bytes(2, dims)
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


def _stats(prefix: str, x: str, nodes: list[Any], make: Callable[..., Any] = make_node) -> list[str]:
    """Nodes for mean, std, |dx| and |dy| of a float [N, H, W, 3] tensor; returns four [N, 3] names.

    ``make`` builds each node: `make_node` here, ``onnx.helper.make_node`` in the onnx check.
    """

    def node(op: str, inputs: list[str], name: str, **attrs: int | list[int]) -> str:
        nodes.append(make(op, inputs, [f"{prefix}{name}"], **attrs))
        return f"{prefix}{name}"

    mean = node("ReduceMean", [x], "mean", axes=[1, 2], keepdims=0)
    square = node("Mul", [x, x], "sq")
    mean_sq = node("ReduceMean", [square], "mean_sq", axes=[1, 2], keepdims=0)
    var = node("Sub", [mean_sq, node("Mul", [mean, mean], "mean2")], "var")
    std = node("Sqrt", [node("Relu", [var], "var_pos")], "std")
    outs = [mean, std]
    for axis, tag in ((2, "dx"), (1, "dy")):
        head = node("Slice", [x, "c_one", "c_big", f"c_axis{axis}"], f"{tag}_head")
        tail = node("Slice", [x, "c_zero", "c_minus_one", f"c_axis{axis}"], f"{tag}_tail")
        diff = node("Abs", [node("Sub", [head, tail], f"{tag}_diff")], f"{tag}_abs")
        outs.append(node("ReduceMean", [diff], f"{tag}_mean", axes=[1, 2], keepdims=0))
    return outs


def tiny_initializers(dim: int, seed: int) -> dict[str, np.ndarray]:
    """The graph's constants by name, in the order they are written."""
    rng = np.random.default_rng(seed)
    features = 24
    projection = rng.standard_normal((features, dim)).astype(np.float32)
    # Typical values of the statistics for natural-ish pictures, so the projection sees both signs.
    centre = np.array([0.5] * 3 + [0.25] * 3 + [0.08] * 3 + [0.08] * 3, dtype=np.float32)
    scale = np.array([4.0] * 3 + [6.0] * 3 + [12.0] * 3 + [12.0] * 3, dtype=np.float32)
    return {
        "projection": projection,
        "centre": np.concatenate([centre, centre]),
        "scale": np.concatenate([scale, scale]),
        "inv255": np.array(1 / 255, dtype=np.float32),
        "c_one": np.array([1], dtype=np.int64),
        "c_zero": np.array([0], dtype=np.int64),
        "c_minus_one": np.array([-1], dtype=np.int64),
        "c_big": np.array([1 << 30], dtype=np.int64),
        "c_axis1": np.array([1], dtype=np.int64),
        "c_axis2": np.array([2], dtype=np.int64),
    }


def build_tiny_model(
    input_size: int = 32, dim: int = 16, *, seed: int = 0, metadata: str | None = None
) -> bytes:
    """A serialised ModelProto; ``metadata`` goes under the painter-match key of metadata_props."""
    nodes = [
        make_node("Cast", ["image"], ["as_float"], to=FLOAT),
        make_node("Mul", ["as_float", "inv255"], ["x"]),
        # Half resolution: 2x2 average pooling needs NCHW.
        make_node("Transpose", ["x"], ["x_nchw"], perm=[0, 3, 1, 2]),
        make_node("AveragePool", ["x_nchw"], ["half_nchw"], kernel_shape=[2, 2], strides=[2, 2]),
        make_node("Transpose", ["half_nchw"], ["half"], perm=[0, 2, 3, 1]),
    ]
    stats = _stats("full_", "x", nodes) + _stats("half_", "half", nodes)
    nodes += [
        make_node("Concat", stats, ["features"], axis=1),
        make_node("Sub", ["features", "centre"], ["centred"]),
        make_node("Mul", ["centred", "scale"], ["scaled"]),
        make_node("MatMul", ["scaled", "projection"], ["projected"]),
        make_node("LpNormalization", ["projected"], ["embedding"], axis=1, p=2),
    ]
    graph = b"".join(_bytes(1, node) for node in nodes) + _bytes(2, "tiny_painter_match")
    graph += b"".join(_bytes(5, from_array(a, name)) for name, a in tiny_initializers(dim, seed).items())
    graph += _bytes(11, tensor_value_info("image", UINT8, ["batch", input_size, input_size, 3]))
    graph += _bytes(12, tensor_value_info("embedding", FLOAT, ["batch", dim]))
    model = _int(1, IR_VERSION) + _bytes(7, graph) + _bytes(8, _bytes(1, "") + _int(2, OPSET))
    if metadata is not None:
        model += _bytes(14, _bytes(1, METADATA_KEY) + _bytes(2, metadata))
    return model


def write_tiny_model(
    path: Path,
    *,
    info: ModelInfo | None = None,
    metadata: str | None | bool = True,
    seed: int = 0,
) -> Path:
    """Write a tiny contract model.

    Args:
        path: where to write it.
        info: its metadata (default `tiny_info()`).
        metadata: True writes ``info`` as JSON; a string is written verbatim (to test bad
            documents); False or None writes no painter-match metadata at all.
        seed: the projection's seed (another seed, another model).
    """
    info = info or tiny_info()
    if metadata is True:
        text: str | None = info.to_json()
    elif isinstance(metadata, str):
        text = metadata
    else:
        text = None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(build_tiny_model(info.input_size, info.embedding_dim, seed=seed, metadata=text))
    return path


def bad_version_metadata(info: ModelInfo | None = None) -> str:
    """A metadata document claiming a schema version this painter-match cannot read."""
    data = json.loads((info or tiny_info()).to_json())
    data["schema_version"] = 99
    return json.dumps(data)
