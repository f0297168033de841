"""Both ONNX Runtime builds installed: the error and the warning say the one command that fixes it.

`pip install "painter-match[gpu]"` into an empty venv leaves onnxruntime and onnxruntime-gpu
installed with the CPU build's files on top (setup.cfg, painter_match/inference/ort_builds.py).
These tests stand in for that state by answering the metadata look-ups;
tests/install/test_fresh_install.py makes it for real.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from painter_match.inference import ort_builds
from painter_match.inference.model import ModelError, resolve_providers

CPU_ONLY = ["AzureExecutionProvider", "CPUExecutionProvider"]
GPU = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]


def _installed(monkeypatch: pytest.MonkeyPatch, **versions: str) -> None:
    """Pretend exactly these distributions are installed (onnxruntime=..., onnxruntime_gpu=...)."""
    table = {name.replace("_", "-"): version for name, version in versions.items()}
    monkeypatch.setattr(ort_builds, "installed_version", table.get)


def test_both_builds_installed_names_the_reinstall_at_the_gpu_builds_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _installed(monkeypatch, onnxruntime="1.32.0", onnxruntime_gpu="1.31.1")
    assert ort_builds.gpu_overwritten(CPU_ONLY)
    advice = ort_builds.gpu_advice(CPU_ONLY)
    assert "onnxruntime-gpu 1.31.1 is installed" in advice and "onnxruntime 1.32.0" in advice
    assert advice.endswith("pip install --force-reinstall --no-deps onnxruntime-gpu==1.31.1")
    # Not the command the user has just run.
    assert 'pip install "painter-match[gpu]"' not in advice
    with pytest.raises(ModelError) as caught:
        resolve_providers("cuda", CPU_ONLY)
    message = str(caught.value)
    assert "\n" not in message and message.endswith("onnxruntime-gpu==1.31.1")


def test_cpu_build_alone_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    _installed(monkeypatch, onnxruntime="1.32.0")
    assert not ort_builds.gpu_overwritten(CPU_ONLY)
    assert ort_builds.gpu_advice(CPU_ONLY) == 'install the GPU build with: pip install "painter-match[gpu]"'
    with pytest.raises(ModelError, match=r'pip install "painter-match\[gpu\]"'):
        resolve_providers("tensorrt", CPU_ONLY)


def test_the_gpu_build_on_top_is_not_a_conflict(monkeypatch: pytest.MonkeyPatch) -> None:
    # A second `pip install "painter-match[gpu]"` onto a CPU install: both recorded, GPU files on top.
    _installed(monkeypatch, onnxruntime="1.32.0", onnxruntime_gpu="1.31.1")
    assert not ort_builds.gpu_overwritten(GPU)
    assert resolve_providers("cuda", GPU)[0] == "CUDAExecutionProvider"


def _fake_onnxruntime(monkeypatch: pytest.MonkeyPatch, providers: list[str]) -> None:
    fake = types.ModuleType("onnxruntime")
    fake.get_available_providers = lambda: list(providers)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "onnxruntime", fake)


def test_the_warning_only_when_the_gpu_build_is_installed_but_not_running(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _installed(monkeypatch, onnxruntime="1.32.0")
    assert ort_builds.overwritten_warning() is None
    _installed(monkeypatch, onnxruntime="1.32.0", onnxruntime_gpu="1.31.1")
    _fake_onnxruntime(monkeypatch, GPU)
    assert ort_builds.overwritten_warning() is None
    _fake_onnxruntime(monkeypatch, CPU_ONLY)
    warning = ort_builds.overwritten_warning()
    assert warning is not None and warning.startswith(
        "warning: no CUDA although onnxruntime-gpu is installed"
    )
    assert warning.endswith(ort_builds.gpu_fix()) and "==1.31.1" in warning


@pytest.mark.skipif(
    ort_builds.installed_version("onnxruntime-gpu") is not None, reason="a real GPU build here"
)
def test_commands_warn_on_auto_and_fail_in_one_line_on_cuda(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from painter_match.cli import main
    from painter_match.inference.model import packaged_model_path

    if packaged_model_path() is None:
        pytest.skip("this install has no packaged model")
    from PIL import Image

    for name, colour in (("a.png", (200, 30, 30)), ("b.png", (30, 30, 200))):
        Image.new("RGB", (64, 48), colour).save(tmp_path / name)
    real = ort_builds.installed_version
    monkeypatch.setattr(
        ort_builds, "installed_version", lambda name: "1.31.1" if name == "onnxruntime-gpu" else real(name)
    )
    assert main(["verify", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-q"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "painter-match: warning: no CUDA although onnxruntime-gpu is installed: "
        + ort_builds.gpu_advice(["CPUExecutionProvider"])
    ]
    assert main(["verify", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "--provider", "cuda"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].endswith(
        "pip install --force-reinstall --no-deps onnxruntime-gpu==1.31.1"
    )
