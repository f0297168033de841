"""The hand-written tiny test models (tests/onnx_models.py) are what onnx.helper would build."""

from __future__ import annotations

import pytest
from onnx_models import (
    FLOAT,
    IR_VERSION,
    OPSET,
    UINT8,
    _stats,
    build_tiny_model,
    tiny_info,
    tiny_initializers,
)

from painter_match.inference.model import METADATA_KEY

onnx = pytest.importorskip("onnx", reason="checks the hand-written models against onnx.helper (needs onnx)")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _helper_stats(prefix: str, x: str, nodes: list) -> list[str]:
    return _stats(prefix, x, nodes, make=helper.make_node)


def _helper_model(input_size: int, dim: int, seed: int, metadata: str | None):
    """The same graph built with onnx.helper (how tests/onnx_models.py built it before)."""
    nodes = [
        helper.make_node("Cast", ["image"], ["as_float"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["as_float", "inv255"], ["x"]),
        helper.make_node("Transpose", ["x"], ["x_nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("AveragePool", ["x_nchw"], ["half_nchw"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Transpose", ["half_nchw"], ["half"], perm=[0, 2, 3, 1]),
    ]
    stats = _helper_stats("full_", "x", nodes) + _helper_stats("half_", "half", nodes)
    nodes += [
        helper.make_node("Concat", stats, ["features"], axis=1),
        helper.make_node("Sub", ["features", "centre"], ["centred"]),
        helper.make_node("Mul", ["centred", "scale"], ["scaled"]),
        helper.make_node("MatMul", ["scaled", "projection"], ["projected"]),
        helper.make_node("LpNormalization", ["projected"], ["embedding"], axis=1, p=2),
    ]
    initializers = [numpy_helper.from_array(a, name) for name, a in tiny_initializers(dim, seed).items()]
    graph = helper.make_graph(
        nodes,
        "tiny_painter_match",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, ["batch", input_size, input_size, 3])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", dim])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    if metadata is not None:
        helper.set_model_props(model, {METADATA_KEY: metadata})
    return model


def test_type_codes_match_onnx() -> None:
    assert (FLOAT, UINT8) == (TensorProto.FLOAT, TensorProto.UINT8)


@pytest.mark.parametrize(
    ("input_size", "dim", "seed", "metadata"),
    [(32, 16, 0, tiny_info().to_json()), (64, 16, 1, None), (32, 4, 2, '{"schema_version": "é"}')],
)
def test_hand_written_model_equals_onnx_helper(
    input_size: int, dim: int, seed: int, metadata: str | None
) -> None:
    ours = build_tiny_model(input_size, dim, seed=seed, metadata=metadata)
    reference = _helper_model(input_size, dim, seed, metadata)
    parsed = onnx.load_from_string(ours)
    onnx.checker.check_model(parsed, full_check=True)
    assert parsed == reference
    assert ours == reference.SerializeToString()
