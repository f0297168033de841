"""GPU readiness: I/O binding gives ``session.run``'s values (checked on the CPU, and on CUDA where
there is a GPU), and a GPU provider that does not run is said out loud, never silently replaced."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import pytest
from onnx_models import tiny_info, write_tiny_model
from PIL import Image

from painter_match.cli import main
from painter_match.inference.model import INPUT_NAME, OUTPUT_NAME, open_model

REAL_SESSION = onnxruntime.InferenceSession


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("model") / "a.onnx", info=tiny_info(tag="a"))


def _pixels(batch: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(batch, 32, 32, 3), dtype=np.uint8)


def test_io_binding_on_the_cpu_gives_session_run_values(model_path: Path) -> None:
    model = open_model(model_path, provider="cpu")
    assert model.provider == "CPUExecutionProvider"
    for batch in (1, 5, 5, 3):
        pixels = _pixels(batch, seed=batch)
        expected = model.session.run([OUTPUT_NAME], {INPUT_NAME: pixels})[0]
        got = model.run_bound(pixels)
        assert got.dtype == np.float32 and got.shape == (batch, 16)
        np.testing.assert_array_equal(got, expected)


def test_a_reused_output_buffer_does_not_change_earlier_results(model_path: Path) -> None:
    model = open_model(model_path, provider="cpu")
    model.io_binding = True  # run() takes the bound path, as it does on CUDA by default
    first = model.run(_pixels(4, seed=1))
    kept = first.copy()
    second = model.run(_pixels(4, seed=2))
    np.testing.assert_array_equal(first, kept)
    assert not np.array_equal(first, second)
    model.io_binding = False
    np.testing.assert_array_equal(model.run(_pixels(4, seed=1)), kept)


def _fake_onnxruntime(available: list[str]) -> types.ModuleType:
    """onnxruntime that lists ``available`` providers but, like a GPU build without a usable GPU,
    quietly opens every session on the CPU."""
    fake = types.ModuleType("onnxruntime")
    fake.__dict__.update({k: v for k, v in onnxruntime.__dict__.items() if not k.startswith("__")})

    class Session(REAL_SESSION):  # type: ignore[misc, valid-type]
        def __init__(self, path: str, sess_options: Any = None, providers: Any = None, **kwargs: Any) -> None:
            self.asked_for = providers
            super().__init__(path, sess_options=sess_options, providers=["CPUExecutionProvider"])

    fake.get_available_providers = lambda: list(available)  # type: ignore[attr-defined]
    fake.InferenceSession = Session  # type: ignore[attr-defined]
    return fake


@pytest.fixture()
def two_paintings(tmp_path: Path) -> list[str]:
    names = []
    for i in range(2):
        name = tmp_path / f"p{i}.png"
        Image.fromarray(_pixels(1, seed=10 + i)[0]).save(name)
        names.append(str(name))
    return names


@pytest.mark.parametrize("provider", ["cuda", "tensorrt"])
def test_a_gpu_provider_that_falls_back_says_which_provider_runs(
    provider: str,
    model_path: Path,
    two_paintings: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    available = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.setitem(sys.modules, "onnxruntime", _fake_onnxruntime(available))
    code = main(["verify", *two_paintings, "-m", str(model_path), "--provider", provider, "--json"])
    err = capsys.readouterr().err
    assert code == 0
    assert (
        f"painter-match: warning: --provider {provider} was asked for but CPUExecutionProvider runs the model"
        in err.splitlines()
    )


def test_a_gpu_provider_onnxruntime_lacks_is_an_error_naming_the_extra(
    model_path: Path,
    two_paintings: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", _fake_onnxruntime(["CPUExecutionProvider"]))
    code = main(["verify", *two_paintings, "-m", str(model_path), "--provider", "cuda"])
    err = capsys.readouterr().err
    assert code == 1
    assert "provider 'cuda' is not available in this onnxruntime (it has CPUExecutionProvider)" in err
    assert 'pip install "painter-match[gpu]"' in err


def test_auto_on_a_cpu_build_runs_on_the_cpu_without_a_warning(
    model_path: Path,
    two_paintings: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", _fake_onnxruntime(["CPUExecutionProvider"]))
    code = main(["verify", *two_paintings, "-m", str(model_path), "--json"])
    err = capsys.readouterr().err
    assert code == 0 and "warning" not in err and "on CPUExecutionProvider" in err


@pytest.mark.gpu
def test_cuda_runs_the_model_with_io_binding_and_matches_the_cpu(model_path: Path) -> None:
    cpu = open_model(model_path, provider="cpu")
    cuda = open_model(model_path, provider="cuda")
    assert cuda.provider == "CUDAExecutionProvider"
    for batch in (1, 32, 256):
        pixels = _pixels(batch, seed=batch)
        expected = cpu.run(pixels)
        np.testing.assert_allclose(cuda.run(pixels), expected, rtol=0, atol=1e-4)  # bound (the default)
        cuda.io_binding = False
        np.testing.assert_allclose(cuda.run(pixels), expected, rtol=0, atol=1e-4)
        cuda.io_binding = None
