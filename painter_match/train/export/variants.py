"""The smaller and faster variants of an fp32 model: int8 for CPUs, fp16 for GPUs.

int8 is ONNX Runtime's static quantization, its activation ranges calibrated on real
paintings: QDQ format, signed 8-bit per-channel weights and unsigned 8-bit activations (U8S8),
the combination ONNX Runtime runs fastest on x86 CPUs with AVX-512 VNNI. fp16 is onnxruntime's
own float16 converter with the uint8 input and float32 output kept, so the contract is unchanged.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from painter_match.errors import PainterMatchError
from painter_match.inference.model import INPUT_NAME

CALIBRATION_BATCH = 16


class _PixelReader(CalibrationDataReader):
    """Feeds calibration batches of pixels to ``quantize_static``."""

    def __init__(self, pixels: np.ndarray, batch_size: int = CALIBRATION_BATCH) -> None:
        self._batches: Iterator[np.ndarray] = iter(
            [pixels[i : i + batch_size] for i in range(0, len(pixels), batch_size)]
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        return None if batch is None else {INPUT_NAME: batch}


def quantize_int8(fp32_path: Path, out_path: Path, calibration_pixels: np.ndarray) -> onnx.ModelProto:
    """Write a statically quantized copy of ``fp32_path`` to ``out_path``.

    Args:
        fp32_path: the checked fp32 model.
        out_path: where the int8 model goes (its metadata is rewritten by the caller).
        calibration_pixels: uint8 [N, S, S, 3] real paintings that set the activation ranges.

    Raises:
        PainterMatchError: without calibration images, or when onnxruntime cannot quantize the graph.
    """
    if len(calibration_pixels) == 0:
        raise PainterMatchError(
            "int8 needs calibration images and none could be read; pass --calibration-data DIR"
        )
    reader = _PixelReader(calibration_pixels)
    with tempfile.TemporaryDirectory(prefix=".quantize-", dir=out_path.parent) as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        # Shape inference and graph optimisation first, as onnxruntime recommends: quantizing the
        # optimised graph puts the quantize/dequantize pairs where the fused kernels want them.
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
        try:
            quantize_static(
                str(prepared),
                str(out_path),
                reader,
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibration_providers=["CPUExecutionProvider"],
            )
        except Exception as exc:  # onnxruntime's quantizer raises untyped errors
            raise PainterMatchError(f"onnxruntime could not quantize the model: {exc}") from exc
    return onnx.load(str(out_path))


def convert_fp16(fp32_path: Path, out_path: Path) -> onnx.ModelProto:
    """Write an fp16 copy of ``fp32_path`` to ``out_path``; input stays uint8, output float32."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(str(fp32_path)), keep_io_types=True)
    onnx.save(model, str(out_path))
    return model
