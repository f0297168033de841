"""The whole chain on the synthetic Kaggle folder: train -> export -> embed -> score.

What the torch-free CLI writes for each pair must be what the trained PyTorch encoder and the
checkpoint's calibration say about it; unreadable paintings get the fill value, and nothing else.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the end-to-end test trains and exports (the [train] extra)")


from painter_match.cli import main  # noqa: E402
from painter_match.data.images import load_pixels  # noqa: E402
from painter_match.errors import ImageLoadError  # noqa: E402
from painter_match.train.checkpoint import Checkpoint  # noqa: E402
from painter_match.train.export import export_model  # noqa: E402


def _torch_embedding(encoder: torch.nn.Module, path: Path, size: int) -> np.ndarray | None:
    try:
        pixels = load_pixels(path, size)
    except ImageLoadError:
        return None
    x = torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 255.0
    with torch.no_grad():
        return encoder(x)[0].numpy()


def test_submission_equals_what_the_trained_encoder_says(
    tiny_checkpoint: Path, synth_dir: Path, tmp_path: Path
) -> None:
    model = tmp_path / "model.onnx"
    export_model(tiny_checkpoint, model)
    embeddings = tmp_path / "test.npz"
    assert main(["embed", str(synth_dir / "test"), "-o", str(embeddings), "-m", str(model), "-q"]) == 0
    submission = tmp_path / "submission.csv"
    # Plain cosines: the collection-centred default is checked in
    # tests/commands/test_collection_scoring.py.
    argv = [
        "score",
        str(synth_dir / "submission_info.csv"),
        "--embeddings",
        str(embeddings),
        "--collection",
        "none",
    ]
    assert main([*argv, "-o", str(submission), "--fill-value", "0.25", "-q"]) == 0

    saved = Checkpoint.load(tiny_checkpoint)
    encoder = saved.restore_encoder()
    size = encoder.input_size
    calibration = saved.calibration
    with open(synth_dir / "submission_info.csv", newline="") as handle:
        pairs = list(csv.DictReader(handle))
    with open(submission, newline="") as handle:
        written = list(csv.DictReader(handle))
    assert [row["index"] for row in written] == [row["index"] for row in pairs]

    cache: dict[str, np.ndarray | None] = {}
    filled = scored = 0
    for pair, row in zip(pairs, written):
        vectors = []
        for name in (pair["image1"], pair["image2"]):
            if name not in cache:
                cache[name] = _torch_embedding(encoder, synth_dir / "test" / name, size)
            vectors.append(cache[name])
        got = float(row["sameArtist"])
        if vectors[0] is None or vectors[1] is None:
            assert got == 0.25
            filled += 1
        else:
            expected = float(calibration.probability([float(vectors[0] @ vectors[1])])[0])
            assert got == pytest.approx(expected, abs=1e-4)
            scored += 1
    assert scored > 0
    assert filled > 0  # the fixture's corrupt test files really were in the pairs
