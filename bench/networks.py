"""The models the bench runs: painter-match ONNX files (fp32, int8) and the same network in eager PyTorch.

By default the bench makes its own: a freshly initialised (untrained) encoder of a backbone, exported
with the export library (`painter_match.train.export.graph.export_onnx`, the contract attached with
`painter_match.train.export.metadata.attach`) and quantized with its int8 recipe
(`painter_match.train.export.variants.quantize_int8`,
calibrated on the bench's own JPEGs). Throughput does not depend on training, and this way
``python -m bench`` works from a fresh clone. The encoder's weights are saved beside the ONNX files,
so the usual way runs exactly the network painter-match runs. With ``--model`` the given file is the
fp32 (or only) variant and the eager network is its ``--checkpoint``, or, without one, a fresh
encoder of the same architecture. `onnx_flops` counts the multiply-adds of a graph for GFLOP/s.
`prepare` runs in a child process (it imports torch); the rest is light.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Stored in the fresh models' metadata: their calibration is arbitrary, as they are untrained.
FRESH_FINGERPRINT = "bench-fresh-untrained"
_VERSION = "v1"  # bumped when the way fresh models are made changes, to leave old caches alone


def onnx_flops(path: str | Path) -> float:
    """Floating-point operations of one image through an ONNX graph (Conv, Gemm and MatMul only).

    A multiply-add counts as 2. The batch axis is fixed at 1 and shapes come from ONNX shape
    inference; QDQ (int8) graphs count the same as their float originals. Element-wise ops,
    pooling and normalisation are left out: they are a few percent of a CNN's work and are memory,
    not arithmetic, bound.
    """
    import onnx
    from onnx import numpy_helper, shape_inference

    model = onnx.load(str(path))
    for value in model.graph.input:
        dims = value.type.tensor_type.shape.dim
        if dims and (dims[0].dim_param or dims[0].dim_value == 0):
            dims[0].ClearField("dim_param")
            dims[0].dim_value = 1
    model = shape_inference.infer_shapes(model, data_prop=True)
    shapes: dict[str, list[int]] = {}
    for value in (*model.graph.input, *model.graph.value_info, *model.graph.output):
        dims = value.type.tensor_type.shape.dim
        shapes[value.name] = [d.dim_value if d.HasField("dim_value") else -1 for d in dims]
    for init in model.graph.initializer:
        shapes[init.name] = list(numpy_helper.to_array(init).shape)
    # DequantizeLinear keeps its input's shape: let QDQ weights resolve to the int8 initializer's.
    for node in model.graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] in shapes:
            shapes.setdefault(node.output[0], shapes[node.input[0]])

    def prod(values: list[int]) -> float:
        total = 1.0
        for v in values:
            total *= max(v, 1)
        return total

    flops = 0.0
    for node in model.graph.node:
        out = shapes.get(node.output[0])
        if not out:
            continue
        if node.op_type == "Conv":
            weight = shapes.get(node.input[1])
            if weight:
                flops += 2.0 * prod(out) * prod(weight[1:])
        elif node.op_type in ("Gemm", "MatMul"):
            a = shapes.get(node.input[0])
            if a:
                trans_a = any(att.name == "transA" and att.i for att in node.attribute)
                k = a[-2] if trans_a and len(a) >= 2 else a[-1]
                flops += 2.0 * prod(out) * max(k, 1)
    return flops


def _fresh_info(encoder: Any, variant: str) -> Any:
    from painter_match.inference.calibration import Calibration
    from painter_match.inference.model import ModelInfo
    from painter_match.train.export.metadata import versions

    return ModelInfo(
        input_size=int(encoder.input_size),
        embedding_dim=int(encoder.embedding_dim),
        # Untrained: any valid calibration will do; scoring speed does not depend on it.
        calibration=Calibration(slope=10.0, intercept=-5.0, threshold=0.5, positive_share=0.5, pairs=0),
        backbone=str(encoder.backbone_name),
        variant=variant,
        data_fingerprint=FRESH_FINGERPRINT,
        created="2026-11-23T00:00:00+00:00",
        versions=versions(),
    )


def _calibration_pixels(images: list[str], size: int) -> Any:
    import numpy as np

    from painter_match.data.images import load_pixels

    return np.stack([load_pixels(p, size) for p in images])


def prepare(
    workdir: str,
    backbone: str,
    input_size: int,
    embedding_dim: int,
    calibration_images: list[str],
    model: str | None = None,
    checkpoint: str | None = None,
    int8: bool = True,
    fp16: bool = False,
) -> dict[str, Any]:
    """Make (or find in the cache) the ONNX variants and the eager weights; runs in a child.

    Args:
        workdir: the bench's cache folder.
        backbone, input_size, embedding_dim: the fresh encoder to build when ``model`` is None.
        calibration_images: JPEGs the int8 variant is calibrated on.
        model: a painter-match ONNX file to bench instead of a fresh encoder.
        checkpoint: the checkpoint ``model`` was exported from (the usual way runs it).
        int8: also make the int8 variant.
        fp16: also make the fp16 variant (for GPU providers).

    Returns:
        ``name``, ``backbone``, ``input_size``, ``embedding_dim``, ``flops_per_image``,
        ``variants`` (variant -> ONNX path) and ``eager`` (a ``.pt`` file of
        ``{"encoder_config", "encoder"}``).
    """
    import onnx
    import torch

    from painter_match.inference.model import open_model
    from painter_match.train.backbones import build_encoder, encoder_config
    from painter_match.train.export.graph import export_onnx
    from painter_match.train.export.metadata import attach
    from painter_match.train.export.variants import convert_fp16, quantize_int8

    if model is not None:
        loaded = open_model(model, provider="cpu")
        info = loaded.info
        backbone, input_size, embedding_dim = info.backbone, info.input_size, info.embedding_dim
        key = f"given-{Path(model).stem}-{info.identity.replace('/', '_').replace(':', '')}"
    else:
        key = f"fresh-{backbone}-{input_size}-{embedding_dim}-{_VERSION}"
    folder = Path(workdir) / "models" / key
    folder.mkdir(parents=True, exist_ok=True)
    eager_path = folder / "eager.pt"
    variants: dict[str, str] = {}

    if checkpoint is not None:
        from painter_match.train.checkpoint import Checkpoint

        encoder = Checkpoint.load(checkpoint).restore_encoder(checkpoint)
    else:
        torch.manual_seed(0)
        encoder = build_encoder(backbone, embedding_dim=embedding_dim, input_size=input_size).eval()
    if not eager_path.exists():
        tmp = eager_path.with_name(".eager.pt.tmp")
        torch.save({"encoder_config": encoder_config(encoder), "encoder": encoder.state_dict()}, tmp)
        tmp.replace(eager_path)

    def write_once(path: Path, build: Any, info: Any) -> str:
        """``build(tmp)`` -> ModelProto with ``info()`` attached, saved to ``path`` atomically,
        unless an earlier run left it there."""
        if not path.exists():
            tmp = path.with_name(f".{path.name}.tmp")
            proto = build(tmp)
            attach(proto, info())
            onnx.save(proto, str(tmp))
            tmp.replace(path)
        return str(path)

    if model is not None:
        variants[info.variant] = str(Path(model).resolve())
        fp32_path = Path(model) if info.variant == "fp32" else None
    else:
        fp32_path = folder / "fp32.onnx"
        variants["fp32"] = write_once(
            fp32_path, lambda tmp: export_onnx(encoder, tmp), lambda: _fresh_info(encoder, "fp32")
        )
    if fp32_path is not None:
        source = fp32_path

        def info_as(variant: str) -> Any:
            return lambda: _replace_variant(open_model(source, provider="cpu").info, variant)

        if int8 and "int8" not in variants:
            variants["int8"] = write_once(
                folder / "int8.onnx",
                lambda tmp: quantize_int8(source, tmp, _calibration_pixels(calibration_images, input_size)),
                info_as("int8"),
            )
        if fp16 and "fp16" not in variants:
            variants["fp16"] = write_once(
                folder / "fp16.onnx", lambda tmp: convert_fp16(source, tmp), info_as("fp16")
            )
    for path in variants.values():
        open_model(path, provider="cpu")  # the CLI must accept every file the bench runs
    flops_source = variants.get("fp32") or next(iter(variants.values()))
    return {
        "name": f"{backbone}-{input_size}",
        "backbone": backbone,
        "input_size": input_size,
        "embedding_dim": embedding_dim,
        "flops_per_image": onnx_flops(flops_source),
        "variants": variants,
        "eager": str(eager_path),
        "source": "given" if model is not None else "fresh (untrained)",
    }


def _replace_variant(info: Any, variant: str) -> Any:
    from dataclasses import replace

    return replace(info, variant=variant)


def load_eager(path: str) -> Any:
    """The eager `painter_match.train.backbones.Encoder` saved by `prepare`, in eval mode."""
    import torch

    from painter_match.train.backbones import encoder_from_config

    state = torch.load(path, weights_only=True)
    encoder = encoder_from_config(state["encoder_config"])
    encoder.load_state_dict(state["encoder"])
    return encoder.eval()
