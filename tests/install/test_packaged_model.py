"""The default model shipped inside the package: it opens, carries the contract, is used by default,
and works from a fresh non-editable install, as a user who runs `pip install painter-match` gets it."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from painter_match.inference.model import MODEL_ENV, open_model, packaged_model_path, resolve_model

ROOT = Path(__file__).resolve().parents[2]
LIMIT_BYTES = 12 * 1024 * 1024  # the most a model inside the wheel may weigh


def _packaged() -> Path:
    path = packaged_model_path()
    assert path is not None, "painter_match/models/painter-match.onnx is missing: `make real-model` builds it"
    return path


def _paintings(folder: Path, count: int = 3) -> Path:
    rng = np.random.default_rng(0)
    for i in range(count):
        pixels = rng.integers(0, 255, (300 + 40 * i, 260, 3), dtype=np.uint8)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(folder / f"painting-{i}.jpg")
    return folder


def test_the_packaged_model_carries_the_contract_and_its_card() -> None:
    path = _packaged()
    assert path.stat().st_size <= LIMIT_BYTES
    assert (path.parent / "MODEL_CARD.md").is_file()
    info = open_model(path, provider="cpu").info
    assert info.variant in {"int8", "fp16"}  # fp32 would not fit the wheel's budget
    # 256 trained dimensions and the 1,280 untrained ImageNet ones beside them.
    assert (info.backbone, info.input_size, info.embedding_dim) == ("efficientnet_lite0", 224, 1536)
    # Its collection calibration reads the collection's own units.
    assert info.collection is not None and info.collection.units == "collection"
    assert 0.5 < info.val_auc <= 1.0
    assert info.calibration.slope > 0 and -1.0 < info.calibration.threshold < 1.0
    assert len(info.training_artists) > 250  # whom it was trained on (for seen/unseen): 300 of 328


def test_the_packaged_model_is_the_last_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./models/painter-match.onnx here
    monkeypatch.delenv(MODEL_ENV, raising=False)
    choice = resolve_model()
    assert (choice.rule, choice.path) == ("packaged", _packaged())
    monkeypatch.setenv(MODEL_ENV, str(tmp_path / "mine.onnx"))
    assert resolve_model().rule == "env"


def test_embed_with_no_model_argument_uses_the_packaged_model(tmp_path: Path) -> None:
    folder = _paintings(tmp_path / "scans")
    env = {k: v for k, v in os.environ.items() if k != MODEL_ENV}
    done = subprocess.run(
        [sys.executable, "-m", "painter_match", "embed", str(folder), "-o", str(tmp_path / "scans.npz")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert str(_packaged()) in done.stderr and "installed with painter-match" in done.stderr
    with np.load(tmp_path / "scans.npz") as data:
        vectors = data["vectors"]
    assert vectors.shape == (3, 1536)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_a_fresh_non_editable_install_embeds_with_no_model(tmp_path: Path) -> None:
    """Build the wheel as `pip install .` would, install it into a new venv, and embed from elsewhere.

    The new venv borrows this environment's third-party packages (numpy, onnxruntime, ...) through a
    .pth file, so the test needs no network; painter_match itself comes only from the wheel.
    """
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    wheel = next(wheels.glob("painter_match-*.whl"))
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    folder = _paintings(tmp_path / "scans", count=2)
    env = {k: v for k, v in os.environ.items() if k not in {MODEL_ENV, "PYTHONPATH"}}
    done = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "painter_match",
            "embed",
            str(folder),
            "-o",
            str(tmp_path / "out.npz"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert str(site / "painter_match" / "models" / "painter-match.onnx") in done.stderr
    with np.load(tmp_path / "out.npz") as data:
        assert data["vectors"].shape == (2, 1536)
