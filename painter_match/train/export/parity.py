"""Parity: the exported graph must give the embeddings PyTorch gives, on real paintings.

Both sides get the same uint8 pixels, PyTorch through the same `PixelEncoder` wrapper that was
exported, ONNX Runtime through the model file; batches of 1 and of an odd size exercise the
dynamic batch axis. Embeddings are unit vectors, so the largest absolute difference of any
component bounds how far any similarity can move (by at most about twice that).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from painter_match.train.backbones import Encoder
from painter_match.train.export.graph import PixelEncoder

# fp32 ONNX Runtime vs fp32 PyTorch on the CPU: both compute in float32, differing only in
# kernel order and fusions, which leaves about 1e-6 on unit vectors; 1e-4 is two orders of
# magnitude above that and still far below what would move a similarity noticeably.
FP32_TOLERANCE = 1e-4
PARITY_BATCHES = (1, 7)

Runner = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Parity:
    """How far the ONNX model's embeddings are from PyTorch's."""

    batch_sizes: list[int]
    images: int
    max_abs_error: float
    min_cosine: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def torch_embeddings(encoder: Encoder, pixels: np.ndarray) -> np.ndarray:
    """The PyTorch reference: uint8 [N, S, S, 3] -> float32 [N, D] through `PixelEncoder`."""
    model = PixelEncoder(encoder).eval()
    with torch.inference_mode():
        return model(torch.from_numpy(np.ascontiguousarray(pixels))).numpy()


def compare(
    encoder: Encoder, run: Runner, pixels: np.ndarray, batch_sizes: Sequence[int] = PARITY_BATCHES
) -> Parity:
    """Run both sides on the first ``b`` images for each ``b`` in ``batch_sizes`` and compare.

    Raises:
        ValueError: when there are fewer images than the largest batch, or the shapes differ.
    """
    if len(pixels) < max(batch_sizes):
        raise ValueError(f"parity needs {max(batch_sizes)} readable images, got {len(pixels)}")
    worst, lowest = 0.0, 1.0
    for size in batch_sizes:
        batch = pixels[:size]
        expected = torch_embeddings(encoder, batch)
        got = np.asarray(run(batch), dtype=np.float32)
        if got.shape != expected.shape:
            raise ValueError(
                f"the ONNX model gave shape {list(got.shape)} for batch {size}, PyTorch {list(expected.shape)}"
            )
        worst = max(worst, float(np.abs(got - expected).max()))
        cosine = np.einsum("ij,ij->i", got, expected) / (
            np.linalg.norm(got, axis=1) * np.linalg.norm(expected, axis=1) + 1e-12
        )
        lowest = min(lowest, float(cosine.min()))
    return Parity(list(batch_sizes), int(max(batch_sizes)), worst, lowest)
