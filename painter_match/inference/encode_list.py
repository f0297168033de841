"""Embedding the images a caller hands over in a list, for the Python API (`Model.embed`,
`Model.same_artist`).

Unlike a folder run (`painter_match.inference.folder`), which skips an unreadable file and lists
it, a list was chosen image by image, so the first one that cannot be decoded is an error that
names it. numpy and ONNX Runtime only: no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from painter_match.errors import ImageLoadError
from painter_match.inference.encoder import OnnxEncoder
from painter_match.inference.inputs import ImageInput
from painter_match.progress import progress_bar

if TYPE_CHECKING:
    from painter_match.data.painting_finder import FoundPainting


def encode_list(encoder: OnnxEncoder, items: list[ImageInput], show_progress: bool) -> np.ndarray:
    """The embeddings of ``items``; the first one that cannot be decoded raises `ImageLoadError`."""
    return encode_found(encoder, items, show_progress)[0]


def encode_found(
    encoder: OnnxEncoder, items: list[ImageInput], show_progress: bool
) -> tuple[np.ndarray, list[FoundPainting | None]]:
    """`encode_list`, and what the painting finder did to each item (None where it did not look)."""
    with progress_bar("embedding", len(items), quiet=not show_progress, unit="images") as bar:
        vectors, failures, paintings = encoder.encode_with_paintings(items, on_progress=bar.advance)
    if failures:
        first = failures[0]
        raise ImageLoadError(first.path, first.cause)
    return vectors, paintings
