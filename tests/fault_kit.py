"""What the fault suites share: tiny data made on the spot, and the checks every fault case makes.

Every case checks what a user depends on: the exit code, exactly one line on stderr (no
traceback), the inputs and any output that must survive byte for byte, and no temporary or lock
file left behind. Runs go through `main()` in this process where only the exit code and messages
matter, and through a subprocess where a second process, a signal or a hang is the point.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from onnx_models import tiny_info, write_tiny_model
from PIL import Image

from painter_match import atomic
from painter_match.cli import main

REPO = Path(__file__).parent.parent
IMAGES = 10


def snapshot(*paths: Path) -> dict[str, bytes]:
    """Every file under the paths (files or folders), by path, to compare byte for byte."""
    files: list[Path] = []
    for path in paths:
        files += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return {str(p): p.read_bytes() for p in files}


def leftovers(folder: Path) -> list[str]:
    """Temporary and lock files of painter-match (or of the writers it replaced) under a folder."""
    return sorted(
        p.name
        for p in folder.rglob("*")
        if atomic.TEMP_TAG in p.name or p.name.endswith((".tmp", atomic.LOCK_SUFFIX))
    )


def one_line(err: str, prefix: str = "painter-match: error: ") -> str:
    """The single line on stderr, checked to start with ``prefix``; no traceback, nothing else."""
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(prefix), err
    return lines[0]


def run(argv: list[str], capsys: pytest.CaptureFixture[str], *, quiet: bool = True) -> tuple[int, str, str]:
    """``painter-match ARGV`` in this process: exit code, stdout, stderr."""
    code = main([*argv, "-q"] if quiet else argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def python(code: str) -> subprocess.Popen[str]:
    """Python source run in a child process, from the repository."""
    return subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def cli_code(argv: list[str], prelude: str = "") -> str:
    """Python source that runs ``painter-match ARGV`` after ``prelude`` and exits with its code."""
    return f"import sys\n{prelude}\nfrom painter_match.cli import main\nsys.exit(main({argv!r}))\n"


def wait_for(path: Path, process: subprocess.Popen[str]) -> None:
    """Wait until ``path`` exists (the child reached the point under test), or the child ended.

    The deadline only keeps a broken child from hanging the suite; nothing is timed.
    """
    deadline = time.monotonic() + 300
    while not path.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert path.exists(), process.communicate()


def make_data(root: Path) -> dict[str, Path]:
    """A tiny model, a folder of small paintings, a pairs file, its solution and their embeddings."""
    images = root / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(IMAGES):
        pixels = (rng.random((40 + i, 48, 3)) * 255 * (0.3 + 0.07 * i)).astype(np.uint8)
        Image.fromarray(pixels).save(images / f"{i}.png")
    names = [f"{i}.png" for i in range(IMAGES)]
    pairs = root / "pairs.csv"
    pairs.write_text(
        "index,image1,image2\n" + "".join(f"{k},{names[k]},{names[k - 1]}\n" for k in range(IMAGES))
    )
    solution = root / "solution.csv"
    solution.write_text("index,sameArtist\n" + "".join(f"{k},{k % 2}\n" for k in range(IMAGES)))
    model = write_tiny_model(root / "model.onnx", info=tiny_info())
    embeddings = root / "e.npz"
    assert main(["embed", str(images), "-o", str(embeddings), "-m", str(model), "-q"]) == 0
    return {
        "root": root,
        "images": images,
        "pairs": pairs,
        "solution": solution,
        "model": model,
        "e": embeddings,
    }
