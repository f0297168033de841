"""The ONNX graph: a trained encoder wrapped so that it takes decoded pixels, exported by torch.

The wrapper takes what a client has after decoding and resizing a painting (uint8, NHWC, RGB)
and does the cast, the scaling to [0, 1] and the layout change inside the graph; the encoder
then normalises with its own mean/std buffers and L2-normalises, so no preprocessing constant
lives outside the ``.onnx`` file. The export uses torch's ``torch.export``-based exporter (the
default since torch 2.9; the TorchScript one is deprecated), which needs ``onnxscript``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import onnx
import torch
from torch import nn

from painter_match.errors import PainterMatchError
from painter_match.inference.model import INPUT_NAME, OUTPUT_NAME
from painter_match.train.backbones import Encoder

# 18: current enough for every op the backbones use, old enough for any onnxruntime >= 1.16.
OPSET = 18
BATCH_AXIS = "batch"


class PixelEncoder(nn.Module):
    """uint8 pixels [N, H, W, 3] (RGB) -> unit embeddings [N, D]: the graph a client runs."""

    def __init__(self, encoder: Encoder) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        pixels = image.permute(0, 3, 1, 2).to(torch.float32) / 255.0
        return self.encoder(pixels)


def export_onnx(encoder: Encoder, path: Path, *, opset: int = OPSET) -> onnx.ModelProto:
    """Export ``encoder`` behind `PixelEncoder` to ``path`` (one self-contained file) and check it.

    The batch axis of ``image`` and ``embedding`` is symbolic (``batch``); height and width are
    fixed at the encoder's input size, which is what the metadata promises.

    Returns:
        The exported model, as loaded back from ``path``.

    Raises:
        PainterMatchError: when onnxscript is missing, or torch or the ONNX checker rejects the graph.
    """
    try:
        import onnxscript  # noqa: F401  (torch's exporter needs it; fail here with the fix)
    except ImportError:
        raise PainterMatchError(
            'export needs onnxscript (torch\'s ONNX exporter uses it); pip install "painter-match[train]"'
        ) from None
    model = PixelEncoder(encoder).eval()
    size = encoder.input_size
    # Batch 2 as the example: torch.export specialises a size-1 dimension, which would pin it.
    example = torch.zeros(2, size, size, 3, dtype=torch.uint8)
    batch = torch.export.Dim(BATCH_AXIS, min=1)
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        # The exporter reports its progress and torch.export internals as warnings and prints.
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(
                model,
                (example,),
                dynamo=True,
                opset_version=opset,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_shapes={"image": {0: batch}},
                external_data=False,
                verbose=False,
            )
        except Exception as exc:  # torch raises a zoo of types from deep inside torch.export
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise PainterMatchError(
                f"torch could not export the {encoder.backbone_name} encoder: {first[:300]}"
            ) from exc
    if program is None:
        raise PainterMatchError("torch.onnx.export returned no program")
    program.save(str(path), external_data=False)
    proto = onnx.load(str(path))
    _name_batch_axis(proto)
    check(proto)
    return proto


def _name_batch_axis(model: onnx.ModelProto) -> None:
    """Call axis 0 of the input and output ``batch`` whatever symbol torch.export gave it."""
    for value in (*model.graph.input, *model.graph.output):
        dim = value.type.tensor_type.shape.dim[0]
        dim.ClearField("dim_value")
        dim.dim_param = BATCH_AXIS


def check(model: onnx.ModelProto) -> None:
    """``onnx.checker`` with full shape inference, as one-line `PainterMatchError`.

    Raises:
        PainterMatchError: naming the checker's complaint.
    """
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PainterMatchError(f"the exported graph fails onnx.checker: {first[:300]}") from None
