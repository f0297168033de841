"""Tiny painter-match contract models built with onnx.helper, so inference tests need no torch.

The graph takes ``image`` uint8 ``[batch, S, S, 3]`` and gives ``embedding`` float32
``[batch, D]``, L2-normalised: per-channel mean and standard deviation over the picture, the
mean absolute horizontal and vertical differences (a crude brushwork statistic), the same four
at half resolution, centred and projected by a fixed random matrix. It tells the synthetic
painters apart a little, which is all the command tests need.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from painter_match.data.views import Views
from painter_match.inference.calibration import Calibration
from painter_match.inference.model import METADATA_KEY, ModelInfo

OPSET = 17
TEST_CALIBRATION = Calibration(slope=8.0, intercept=-4.0, threshold=0.5, positive_share=0.5, pairs=100)


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
        versions={"onnx": onnx.__version__},
        views=views or Views(),
        weights=f"{tag}-weights-sha256",
    )


def _stats(prefix: str, x: str, nodes: list[onnx.NodeProto]) -> list[str]:
    """Nodes for mean, std, |dx| and |dy| of a float [N, H, W, 3] tensor; returns four [N, 3] names."""

    def node(op: str, inputs: list[str], name: str, **attrs: object) -> str:
        nodes.append(helper.make_node(op, inputs, [f"{prefix}{name}"], **attrs))
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


def build_tiny_model(input_size: int = 32, dim: int = 16, *, seed: int = 0) -> onnx.ModelProto:
    """The graph alone, without metadata."""
    rng = np.random.default_rng(seed)
    features = 24
    projection = rng.standard_normal((features, dim)).astype(np.float32)
    # Typical values of the statistics for natural-ish pictures, so the projection sees both signs.
    centre = np.array([0.5] * 3 + [0.25] * 3 + [0.08] * 3 + [0.08] * 3, dtype=np.float32)
    scale = np.array([4.0] * 3 + [6.0] * 3 + [12.0] * 3 + [12.0] * 3, dtype=np.float32)
    initializers = [
        numpy_helper.from_array(projection, "projection"),
        numpy_helper.from_array(np.concatenate([centre, centre]), "centre"),
        numpy_helper.from_array(np.concatenate([scale, scale]), "scale"),
        numpy_helper.from_array(np.array(1 / 255, dtype=np.float32), "inv255"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "c_one"),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "c_zero"),
        numpy_helper.from_array(np.array([-1], dtype=np.int64), "c_minus_one"),
        numpy_helper.from_array(np.array([1 << 30], dtype=np.int64), "c_big"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "c_axis1"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "c_axis2"),
    ]
    nodes = [
        helper.make_node("Cast", ["image"], ["as_float"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["as_float", "inv255"], ["x"]),
        # Half resolution: 2x2 average pooling needs NCHW.
        helper.make_node("Transpose", ["x"], ["x_nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("AveragePool", ["x_nchw"], ["half_nchw"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Transpose", ["half_nchw"], ["half"], perm=[0, 2, 3, 1]),
    ]
    stats = _stats("full_", "x", nodes) + _stats("half_", "half", nodes)
    nodes += [
        helper.make_node("Concat", stats, ["features"], axis=1),
        helper.make_node("Sub", ["features", "centre"], ["centred"]),
        helper.make_node("Mul", ["centred", "scale"], ["scaled"]),
        helper.make_node("MatMul", ["scaled", "projection"], ["projected"]),
        helper.make_node("LpNormalization", ["projected"], ["embedding"], axis=1, p=2),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_painter_match",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, ["batch", input_size, input_size, 3])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", dim])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
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
    model = build_tiny_model(info.input_size, info.embedding_dim, seed=seed)
    if metadata is True:
        text: str | None = info.to_json()
    elif isinstance(metadata, str):
        text = metadata
    else:
        text = None
    if text is not None:
        helper.set_model_props(model, {METADATA_KEY: text})
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def bad_version_metadata(info: ModelInfo | None = None) -> str:
    """A metadata document claiming a schema version this painter-match cannot read."""
    data = json.loads((info or tiny_info()).to_json())
    data["schema_version"] = 99
    return json.dumps(data)
