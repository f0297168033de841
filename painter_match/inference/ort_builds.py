"""Which ONNX Runtime build is installed, and the one command that gives this environment CUDA.

``onnxruntime`` (the CPU build, what ``pip install painter-match`` brings) and ``onnxruntime-gpu``
(the ``[gpu]`` extra) are two distributions of one module: both install into
``site-packages/onnxruntime/``, and whichever pip installs last owns the compiled core that decides
the providers. Installed in one pip run, that is always the CPU build: pip installs packages of
equal depth in reverse name order, ``onnxruntime-gpu`` before ``onnxruntime`` (setup.cfg says why
the extra keeps this shape). Installed in a second run, onto an environment that already has the
CPU build, ``onnxruntime-gpu`` goes down last and wins. `gpu_advice` tells the two cases apart, so
that a missing CUDA provider is answered with the command that fixes this environment, never with
the one the user has just run.

Standard library only: it is read on every model-opening command and by ``painter-match model``.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata

CPU_BUILD = "onnxruntime"
GPU_BUILD = "onnxruntime-gpu"
CUDA_PROVIDER = "CUDAExecutionProvider"
INSTALL_GPU = 'pip install "painter-match[gpu]"'


def installed_version(distribution: str) -> str | None:
    """The installed version of ``distribution``, or None when it is not installed."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def builds() -> dict[str, str]:
    """The ONNX Runtime builds installed here: distribution name -> version (CPU first)."""
    found = {name: installed_version(name) for name in (CPU_BUILD, GPU_BUILD)}
    return {name: version for name, version in found.items() if version is not None}


def gpu_overwritten(available: Sequence[str]) -> bool:
    """Whether onnxruntime-gpu is installed but the CPU build's files are the ones that load."""
    return CUDA_PROVIDER not in available and len(builds()) == 2


def gpu_fix() -> str:
    """The command that puts onnxruntime-gpu's files back over the CPU build's, at its own version.

    Reinstalling it alone (``--no-deps``) leaves both distributions recorded, so that pip still
    sees painter-match's ``onnxruntime`` requirement met, and makes the GPU build's files the ones
    on disk: the state a second ``pip install "painter-match[gpu]"`` onto a CPU install leaves.
    """
    version = installed_version(GPU_BUILD)
    pin = f"=={version}" if version else ""
    return f"pip install --force-reinstall --no-deps {GPU_BUILD}{pin}"


def gpu_advice(available: Sequence[str]) -> str:
    """What to run for CUDA when ``available`` (onnxruntime's providers) lacks it, in one clause."""
    if gpu_overwritten(available):
        found = builds()
        return (
            f"{GPU_BUILD} {found[GPU_BUILD]} is installed, but the CPU build ({CPU_BUILD} {found[CPU_BUILD]}) "
            f"was installed over it and its files won (both builds install into one onnxruntime folder, "
            f"and pip installs the CPU build last when it installs both at once); put the GPU build back "
            f"with: {gpu_fix()}"
        )
    return f"install the GPU build with: {INSTALL_GPU}"


def overwritten_warning() -> str | None:
    """A one-line warning when onnxruntime-gpu is installed but the CPU build runs, else None.

    Cheap when all is well: two metadata look-ups, and onnxruntime is already imported by then.
    """
    if installed_version(GPU_BUILD) is None:
        return None
    import onnxruntime as ort

    available = ort.get_available_providers()
    if not gpu_overwritten(available):
        return None
    return f"warning: no CUDA although {GPU_BUILD} is installed: {gpu_advice(available)}"
