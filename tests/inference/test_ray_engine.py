"""The Ray engine: the same vectors as the local engine on a local Ray of 2 CPUs, the same embeddings
file from ``embed --engine ray``, and the install line when Ray is absent."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from onnx_models import tiny_info, write_tiny_model
from PIL import Image

from painter_match.cli import main
from painter_match.data.views import Views
from painter_match.errors import PainterMatchError
from painter_match.inference.embeddings import load_embeddings
from painter_match.inference.encoder import OnnxEncoder
from painter_match.inference.model import open_model
from painter_match.inference.scale_out.ray_engine import INSTALL_LINE, embed_with_ray, import_ray

HAS_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(
    not HAS_RAY, reason='Ray is not installed (pip install "painter-match[ray]"); .ci/run installs it'
)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("model") / "a.onnx", info=tiny_info(tag="a"))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Nine pictures in two folders and one file that is not an image."""
    root = tmp_path_factory.mktemp("paintings")
    rng = np.random.default_rng(5)
    for i in range(9):
        sub = root / f"artist_{i % 2}"
        sub.mkdir(exist_ok=True)
        pixels = (rng.random((36 + 2 * i, 44, 3)) * 255 * (0.4 + i / 20)).clip(0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(sub / f"p{i}.png")
    (root / "artist_0" / "broken.jpg").write_bytes(b"not a jpeg")
    return root


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    if not HAS_RAY:
        pytest.skip('Ray is not installed (pip install "painter-match[ray]")')
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


@needs_ray
def test_ray_gives_the_local_engines_vectors(model: Path, folder: Path, local_ray: None) -> None:
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.*"))
    views = Views(crops=2)
    # One image a call in both engines, so that both make the same model calls (another batch
    # size may round the last bits differently).
    encoder = OnnxEncoder(open_model(model, provider="cpu"), views=views, batch_size=1)
    expected, failures = encoder.encode([folder / n for n in names])

    paths, vectors, ray_failures = embed_with_ray(
        model, names, folder, views=views, batch_size=1, concurrency=2
    )

    good = [n for n in names if n != "artist_0/broken.jpg"]
    assert paths == good and vectors.shape == (9, 16) and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, expected[[names.index(p) for p in good]], rtol=0, atol=1e-6)
    assert [(f.index, f.path, f.cause) for f in ray_failures] == [
        (f.index, names[f.index], f.cause) for f in failures
    ]
    assert ray_failures and ray_failures[0].path == "artist_0/broken.jpg"


@needs_ray
def test_embed_engine_ray_writes_the_same_file(
    model: Path, folder: Path, local_ray: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = [str(folder), "-m", str(model), "--provider", "cpu", "--batch-size", "1", "--quiet", "--json"]
    # Ray does not look for paintings (its default is off), so the local run is asked not to either:
    # the finder's mode is part of the file's identity.
    assert main(["embed", *common, "-o", str(tmp_path / "local.npz"), "--find-painting", "off"]) == 0
    capsys.readouterr()
    assert main(["embed", *common, "-o", str(tmp_path / "ray.npz"), "--engine", "ray"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["engine"] == "ray" and summary["embedded"] == 9 and summary["unreadable"] == 1
    local, remote = load_embeddings(tmp_path / "local.npz"), load_embeddings(tmp_path / "ray.npz")
    assert remote.paths == local.paths and remote.source == local.source and remote.root == local.root
    np.testing.assert_allclose(remote.vectors, local.vectors, rtol=0, atol=1e-6)
    assert (tmp_path / "ray.errors.csv").read_text() == (tmp_path / "local.errors.csv").read_text()


def test_without_ray_the_engine_says_how_to_install_it(
    model: Path,
    folder: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails, installed or not
    with pytest.raises(PainterMatchError, match=r"install it with: pip install \"painter-match\[ray\]\"$"):
        import_ray()
    code = main(["embed", str(folder), "-o", str(tmp_path / "e.npz"), "-m", str(model), "--engine", "ray"])
    err = capsys.readouterr().err
    assert code == 1 and INSTALL_LINE in err and err.count("\n") == 1
    assert not (tmp_path / "e.npz").exists()


def test_ray_options_need_the_ray_engine(
    model: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["embed", str(folder), "-m", str(model), "--address", "auto"])
    assert code == 2 and "--address and --gpus-per-actor go with --engine ray" in capsys.readouterr().err
