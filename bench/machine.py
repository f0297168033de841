"""What the bench ran on: CPU model, cores, vector extensions, memory, GPU, library versions, load.

Read from /proc and package metadata only (no torch import), so the parent process stays light.
The load average is recorded at the start and the end of a run: figures taken while other work
shares the cores are not comparable with figures from a quiet machine, and the JSON says which.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

# The flags that decide which kernels onnxruntime and Pillow-SIMD-free Pillow can use.
_INTERESTING_FLAGS = (
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_int8",
)
_LIBRARIES = (
    "painter-match",
    "numpy",
    "pandas",
    "pyarrow",
    "pillow",
    "onnxruntime",
    "onnxruntime-gpu",
    "onnx",
    "torch",
    "torchvision",
    "rich",
)


def _cpuinfo() -> tuple[str, list[str]]:
    model: str = platform.processor() or platform.machine()
    flags: list[str] = []
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return model, flags
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and value.strip():
            model = value.strip()
        elif key == "flags" and not flags:
            flags = value.split()
    return model, flags


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def gpu_name() -> str | None:
    """The first GPU ``nvidia-smi -L`` lists, or None."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = out.stdout.strip().splitlines()
    return lines[0] if out.returncode == 0 and lines else None


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries the figures depend on (None when absent)."""
    versions: dict[str, str | None] = {}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cores() -> int:
    """The cores this process may run on (the affinity mask, which containers narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def effective_cores(threads: int | None = None, megabytes: int = 64, rounds: int = 4) -> float:
    """How many cores' worth of work this process gets right now: N threads' speed-up over one.

    Each thread hashes ``rounds`` x ``megabytes`` with SHA-256 (hashlib releases the GIL), once on
    one thread and then on ``threads`` at once. On a quiet machine the answer is close to the core
    count; when other jobs share the cores it is what is left, and every parallel figure (and the
    stage bound, which assumes all cores) has to be read with it.
    """
    import hashlib
    import threading
    import time

    threads = threads or cores()
    data = b"x" * (megabytes << 20)

    def work() -> None:
        for _ in range(rounds):
            hashlib.sha256(data).digest()

    def run(n: int) -> float:
        workers = [threading.Thread(target=work) for _ in range(n)]
        begin = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return time.perf_counter() - begin

    run(1)  # warm-up: page in the buffer
    one = min(run(1) for _ in range(2))
    many = min(run(threads) for _ in range(2))
    return round(threads * one / many, 2)


def machine_info() -> dict[str, Any]:
    """The machine block of the JSON."""
    model, flags = _cpuinfo()
    return {
        "cpu": model,
        "arch": platform.machine(),
        "cores": cores(),
        "logical_cpus": os.cpu_count(),
        "cpu_flags": [f for f in _INTERESTING_FLAGS if f in flags],
        "memory_gb": _memory_gb(),
        "gpu": gpu_name(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "libraries": library_versions(),
        "load_average_start": load_average(),
        "effective_cores_start": effective_cores(),
    }
