"""The embeddings file: round trip, atomic writes, names of the side files, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx_models import tiny_info

from painter_match.data.views import Views
from painter_match.errors import DataError
from painter_match.inference.embeddings import (
    Embeddings,
    EmbeddingSource,
    errors_path,
    load_embeddings,
    merge,
    partial_path,
    save_embeddings,
    write_errors,
)


def _embeddings(paths: list[str], seed: int = 0) -> Embeddings:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((len(paths), 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return Embeddings(paths, vectors, EmbeddingSource(tiny_info(), Views(crops=2)), root="/data")


def test_round_trip(tmp_path: Path) -> None:
    original = _embeddings(["a/1.jpg", "b/ünï cödé.png", "3.jpg"])
    out = save_embeddings(tmp_path / "e.npz", original)
    loaded = load_embeddings(out)
    assert loaded.paths == original.paths and loaded.root == "/data"
    np.testing.assert_array_equal(loaded.vectors, original.vectors)
    assert loaded.source.identity == original.source.identity
    assert loaded.source.views == Views(crops=2)
    assert loaded.source.info.calibration == original.source.info.calibration
    assert [p.name for p in tmp_path.iterdir()] == ["e.npz"]  # no temporary file left behind


def test_identity_changes_with_model_and_views() -> None:
    a = EmbeddingSource(tiny_info(tag="a"), Views())
    assert a.identity != EmbeddingSource(tiny_info(tag="b"), Views()).identity
    assert a.identity != EmbeddingSource(tiny_info(tag="a"), Views(crops=4)).identity


def test_side_file_names() -> None:
    assert partial_path(Path("runs/test.npz")) == Path("runs/test.partial.npz")
    assert errors_path(Path("runs/test.npz")) == Path("runs/test.errors.csv")


def test_errors_csv(tmp_path: Path) -> None:
    path = write_errors(tmp_path / "e.errors.csv", [("x, y.jpg", "truncated image data")])
    assert path.read_text() == 'path,cause\n"x, y.jpg",truncated image data\n'


def test_merge_orders_and_prefers_the_last(tmp_path: Path) -> None:
    first, second = _embeddings(["b", "a"], seed=1), _embeddings(["c", "a"], seed=2)
    merged = merge(["a", "b", "c", "d"], [first, second], first.source, "/data")
    assert merged.paths == ["a", "b", "c"]
    np.testing.assert_array_equal(merged.vectors[0], second.vectors[1])


def test_bad_files_are_data_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        load_embeddings(tmp_path / "missing.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"nope")
    with pytest.raises(DataError, match="not a readable embeddings file"):
        load_embeddings(junk)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    with pytest.raises(DataError, match="lacks"):
        load_embeddings(other)
    with pytest.raises(ValueError):
        Embeddings(["a"], np.zeros((2, 16), np.float32), _embeddings([]).source)
