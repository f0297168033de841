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
