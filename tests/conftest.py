"""Shared test set-up: markers for slow and GPU tests, and small data sets made once per session."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="also run tests marked slow (minutes each)")


def _cuda_present() -> bool:
    if shutil.which("nvidia-smi") is None:
        return False
    return subprocess.run(["nvidia-smi", "-L"], capture_output=True, check=False).returncode == 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_slow = pytest.mark.skip(reason="slow (minutes): run with --run-slow, or `make test-all`")
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU; none found (nvidia-smi -L failed)")
    run_slow = config.getoption("--run-slow")
    has_gpu: bool | None = None
    for item in items:
        if "slow" in item.keywords and not run_slow:
            item.add_marker(skip_slow)
        if "gpu" in item.keywords:
            if has_gpu is None:
                has_gpu = _cuda_present()
            if not has_gpu:
                item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic Kaggle-layout folder with a few corrupt files, shared by many tests (read-only)."""
    from painter_match.data.synth import SynthConfig, generate

    out = tmp_path_factory.mktemp("synth") / "data"
    generate(
        out,
        SynthConfig(
            seed=3,
            artists=6,
            test_artists=3,
            paintings=8,
            group_size=12,
            corrupt=3,
            min_size=96,
            max_size=256,
            workers=1,
        ),
    )
    return out


@pytest.fixture(scope="session")
def tiny_checkpoint(synth_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``best.pt`` of a tiny compact model (32 px, 32-d) trained 2 epochs on `synth_dir` (read-only)."""
    pytest.importorskip("torch", reason="needs the [train] extra (torch)")
    from tiny_training import tiny_config

    from painter_match.train.trainer import train

    out = tmp_path_factory.mktemp("tiny_run") / "run"
    config = tiny_config(synth_dir, out, augment=("flip",), device="cpu")
    train(config)
    return out / "best.pt"


@pytest.fixture(scope="session")
def readable_paintings(synth_dir: Path) -> list[Path]:
    """The synthetic test paintings that decode (the fixture's corrupt files left out), sorted."""
    from painter_match.data.images import load_image
    from painter_match.errors import ImageLoadError

    readable = []
    for path in sorted((synth_dir / "test").iterdir()):
        try:
            load_image(path)
        except ImageLoadError:
            continue
        readable.append(path)
    return readable


# --- the command tests' data (tests/commands/) ------------------------------------------------
# `models` and `images`: tiny hand-built ONNX models and a writable copy of the test paintings, for
# test_embed.py, test_verify.py, test_similar.py and test_score.py (helpers in cli_kit.py).


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from onnx_models import bad_version_metadata, tiny_info, write_tiny_model

    folder = tmp_path_factory.mktemp("models")
    return {
        "a": write_tiny_model(folder / "a.onnx", info=tiny_info(tag="a")),
        "b": write_tiny_model(folder / "b.onnx", info=tiny_info(tag="b"), seed=1),
        "bare": write_tiny_model(folder / "bare.onnx", metadata=False),
        "v99": write_tiny_model(folder / "v99.onnx", metadata=bad_version_metadata()),
    }


@pytest.fixture()
def images(synth_dir: Path, tmp_path: Path) -> Path:
    """A writable copy of the synthetic test/ folder, readable files only."""
    from painter_match.data.images import load_image
    from painter_match.errors import ImageLoadError

    out = tmp_path / "test"
    out.mkdir()
    for path in sorted((synth_dir / "test").iterdir()):
        try:
            load_image(path)
        except ImageLoadError:
            continue
        shutil.copy(path, out / path.name)
    return out


# `data`, `work` and `strips`: the first fault suite's, for test_score_faults.py,
# test_embed_faults.py, test_verify_faults.py and test_export_faults.py (checks in fault_kit.py).


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny model, a folder of small paintings, a pairs file and its solution (read-only)."""
    from fault_kit import make_data

    return make_data(tmp_path_factory.mktemp("faults"))


@pytest.fixture()
def work(data: dict[str, Path], tmp_path: Path) -> Path:
    """An empty folder for this test's outputs."""
    return tmp_path


@pytest.fixture(scope="module")
def strips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 100000 x 1 PNG (a few hundred bytes), a 50:1 one that is still a painting, a 12-megapixel
    scan, an ordinary painting, and a 64 px model (read-only)."""
    import numpy as np
    from onnx_models import tiny_info, write_tiny_model
    from PIL import Image

    root = tmp_path_factory.mktemp("strips")
    folder = root / "images"
    folder.mkdir()
    Image.new("RGB", (100_000, 1), (200, 30, 30)).save(folder / "strip.png")
    pixels = (np.random.default_rng(1).random((40, 2000, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(folder / "scroll.png")
    Image.fromarray(pixels[:, :48]).save(folder / "normal.png")
    Image.new("RGB", (4000, 3000), (40, 90, 160)).save(folder / "scan.png")
    model = write_tiny_model(root / "m64.onnx", info=tiny_info(input_size=64))
    return {"folder": folder, "model": model}
