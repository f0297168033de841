"""Kaggle-shaped pair files at full scale, for benchmarks and tests of the scoring engine.

The real ``submission_info.csv`` lists 21.9 million pairs over 23,817 test images named like
``12345.jpg``. :func:`make_kaggle_scale_pairs` writes a file of that shape (and a matching
``solution.csv`` on request) in seconds: rows are assembled block by block with Arrow string
kernels instead of Python formatting, so the generator never dominates a benchmark.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

KAGGLE_PAIRS = 21_916_047
KAGGLE_IMAGES = 23_817

Order = Literal["grouped", "random"]

# Rows assembled per write: large enough that Arrow's per-call overhead vanishes, small enough
# that the generator stays well under a gigabyte.
_BLOCK_ROWS = 1 << 20
_LABELS = pa.array(["0\n", "1\n"], pa.string())


def make_kaggle_scale_pairs(
    path: str | Path,
    pairs: int = KAGGLE_PAIRS,
    images: int = KAGGLE_IMAGES,
    seed: int = 0,
    *,
    order: Order = "grouped",
    solution: str | Path | None = None,
    positive_share: float = 0.5,
) -> list[str]:
    """Write a Kaggle-shaped ``index,image1,image2`` file and return the image names it uses.

    Args:
        path: the pairs CSV to write.
        pairs: number of rows; indices run 0..pairs-1 in file order, as in Kaggle's file.
        images: number of distinct image names, drawn (without repeats) from ``0.jpg`` to
            ``{10 * images}.jpg`` so the names look like Kaggle's numeric ones.
        seed: makes the file reproducible.
        order: ``"grouped"`` lists each image's pairs together as ``image1`` (Kaggle's file
            is laid out that way), ``"random"`` draws ``image1`` afresh on every row (the
            worst case for locality).
        solution: also write ``index,sameArtist`` ground truth here (random labels with
            ``positive_share`` ones), for AUC runs.
        positive_share: the share of same-artist labels in ``solution``.

    Returns:
        The image names, in the order their embeddings should be stacked; every name appears
        in the file when ``pairs`` is large enough.
    """
    if pairs < 1 or images < 2:
        raise ValueError(f"need pairs >= 1 and images >= 2, got pairs={pairs}, images={images}")
    rng = np.random.default_rng(seed)
    ids = rng.choice(10 * images, size=images, replace=False)
    names = [f"{i}.jpg" for i in ids]
    names_arrow = pa.array(names, pa.string())
    names_newline = pa.array([f"{n}\n" for n in names], pa.string())
    # Grouped order: image k (in a shuffled order) is image1 of about pairs/images consecutive rows.
    group_order = rng.permutation(images)
    bounds = np.linspace(0, pairs, images + 1).astype(np.int64)
    label_file = open(solution, "wb") if solution is not None else None  # noqa: SIM115 - closed below
    try:
        with open(path, "wb") as out:
            out.write(b"index,image1,image2\n")
            if label_file is not None:
                label_file.write(b"index,sameArtist\n")
            for start in range(0, pairs, _BLOCK_ROWS):
                stop = min(start + _BLOCK_ROWS, pairs)
                rows = np.arange(start, stop, dtype=np.int64)
                if order == "grouped":
                    first = group_order[np.searchsorted(bounds, rows, side="right") - 1]
                else:
                    first = rng.integers(0, images, stop - start)
                # A second image different from the first: draw from images-1 and skip over it.
                second = rng.integers(0, images - 1, stop - start)
                second += second >= first
                index_text = pc.cast(pa.array(rows), pa.string())
                line = pc.binary_join_element_wise(
                    index_text, names_arrow.take(first), names_newline.take(second), ","
                )
                out.write(_body(line))
                if label_file is not None:
                    labels = (rng.random(stop - start) < positive_share).astype(np.int64)
                    label_line = pc.binary_join_element_wise(index_text, _LABELS.take(labels), ",")
                    label_file.write(_body(label_line))
    finally:
        if label_file is not None:
            label_file.close()
    return names


def _body(lines: pa.Array) -> memoryview:
    """The bytes of a string array's values, back to back: each value already ends in a newline."""
    array = lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32, count=len(array) + 1, offset=array.offset * 4)
    data = array.buffers()[2]
    return memoryview(data)[offsets[0] : offsets[-1]]
