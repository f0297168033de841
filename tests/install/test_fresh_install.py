"""What a user gets from pip, for real: a wheel built from the files git would commit, installed
into fresh venvs and run from a folder outside the repository (slow: minutes, and the network or
a package cache for the dependencies; .ci/run runs it).

- ``pip install painter-match``: ``python -m export --help``, ``python -m bench --help``,
  ``man painter-match``, ``painter-match model`` work; ``python -m bench --quick`` exits 0 with every
  comparison that needs torch or onnx skipped in one line; the licences are in the metadata.
- Then ``pip install "painter-match[gpu]"`` as a second command: CUDA among onnxruntime's providers.
- ``pip install "painter-match[gpu]"`` in one command: pip puts the CPU build last, so its files win
  (setup.cfg); painter-match says so and names the command that fixes it, which does.

No GPU is needed: onnxruntime lists the providers it was built with whether or not a GPU is there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CUDA = "CUDAExecutionProvider"
PROVIDERS = "import onnxruntime, json; print(json.dumps(onnxruntime.get_available_providers()))"


def _env(bin_dir: Path | None = None) -> dict[str, str]:
    """The environment of a user's shell, with the venv first on PATH when given ("activated")."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PAINTER_MATCH_MODEL", "VIRTUAL_ENV")
    }
    if bin_dir is not None:
        env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", "")])
        env["VIRTUAL_ENV"] = str(bin_dir.parent)
    return env


def _run(
    command: list[str], where: Path, bin_dir: Path | None = None, timeout: float = 900
) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, cwd=where, env=_env(bin_dir), capture_output=True, text=True, timeout=timeout, check=False
    )


def _ok(command: list[str], where: Path, bin_dir: Path | None = None, timeout: float = 900) -> str:
    done = _run(command, where, bin_dir, timeout)
    assert done.returncode == 0, (
        f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    )
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """painter-match's wheel, built from a copy of the files git would commit (so nothing ignored,
    such as a local models/ or a built man page, can make it pass)."""
    if shutil.which("git") is None:
        pytest.skip("needs git to list the repository's files")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():  # listed but deleted in the working tree: not there to copy
            target = source / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target)
    _ok(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(base / "dist"), str(source)],
        base,
    )
    (built,) = (base / "dist").glob("painter_match-*.whl")
    return built


def _venv(where: Path) -> Path:
    _ok([sys.executable, "-m", "venv", str(where)], where.parent)
    return where / "bin"


@pytest.fixture(scope="module")
def plain(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the venv's bin folder, a folder outside the repository) after `pip install painter-match`."""
    base = tmp_path_factory.mktemp("plain")
    bin_dir = _venv(base / "venv")
    _ok([str(bin_dir / "pip"), "install", "--quiet", str(wheel)], base)
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    return bin_dir, elsewhere


def test_the_tools_the_design_names_run_outside_the_repository(plain: tuple[Path, Path]) -> None:
    bin_dir, where = plain
    python = str(bin_dir / "python")
    for package in ("export", "bench"):
        out = _ok([python, "-m", package, "--help"], where, bin_dir)
        assert out.startswith(f"usage: python -m {package}")
    # An inference install: no torch, no onnx.
    assert _run([python, "-c", "import torch"], where, bin_dir).returncode == 1
    assert _run([python, "-c", "import onnx"], where, bin_dir).returncode == 1
    help_text = " ".join(_ok([str(bin_dir / "painter-match"), "--help"], where, bin_dir).split())
    assert "research and education, not commercial use" in help_text
    document = json.loads(_ok([str(bin_dir / "painter-match"), "model", "--json"], where, bin_dir))
    assert document["chosen"]["rule"] == "packaged" and document["packaged"] is True
    assert Path(document["chosen"]["path"]).is_relative_to(bin_dir.parent)
    assert Path(document["card"]).is_file() and Path(document["terms_file"]).is_file()


def test_man_finds_the_page(plain: tuple[Path, Path]) -> None:
    if shutil.which("man") is None:
        pytest.skip("no man on this machine")
    bin_dir, where = plain
    located = _ok(["man", "-w", "painter-match"], where, bin_dir).strip()
    assert Path(located) == bin_dir.parent / "share" / "man" / "man1" / "painter-match.1"
    done = _run(["man", "painter-match"], where, bin_dir)
    page = " ".join(done.stdout.split())
    assert done.returncode == 0 and "painter-match - decide whether two paintings share an artist" in page


def test_the_metadata_states_both_licences(plain: tuple[Path, Path]) -> None:
    bin_dir, where = plain
    shown = _ok([str(bin_dir / "pip"), "show", "painter-match"], where, bin_dir)
    assert "research and education, not commercial use" in shown
    (info,) = (bin_dir.parent / "lib").glob("python3*/site-packages/painter_match-*.dist-info")
    metadata = (info / "METADATA").read_text()
    assert "License-Expression: MIT AND LicenseRef-painter-match-model" in metadata
    licences = {p.name for p in (info / "licenses").rglob("*") if p.is_file()}
    assert licences == {"LICENSE", "MODEL_LICENSE.md"}


def test_the_bench_quick_run_on_the_inference_install(plain: tuple[Path, Path], tmp_path: Path) -> None:
    bin_dir, where = plain
    out = tmp_path / "bench.json"
    command = [str(bin_dir / "python"), "-m", "bench", "--quick", "-q", "--workdir", str(tmp_path / "work")]
    done = _run([*command, "--json", str(out)], where, bin_dir, timeout=1200)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    document = json.loads(out.read_text())
    assert not document["errors"] and document["skipped"]
    skipped = [line for line in done.stderr.splitlines() if line.startswith("bench: skipped ")]
    assert len(skipped) == len(document["skipped"])
    assert all("not installed" in line or "need torch and onnx" in line for line in skipped)
    assert any(r.get("real") == "embed" and r["value"] > 0 for r in document["rows"])


def test_the_gpu_extra_as_a_second_command_gives_cuda(wheel: Path, plain: tuple[Path, Path]) -> None:
    """The documented route (last here: it changes the venv the tests above use)."""
    bin_dir, where = plain
    _ok([str(bin_dir / "pip"), "install", "--quiet", f"{wheel}[gpu]"], where, bin_dir)
    assert CUDA in json.loads(_ok([str(bin_dir / "python"), "-c", PROVIDERS], where, bin_dir))
    document = json.loads(_ok([str(bin_dir / "painter-match"), "model", "--json"], where, bin_dir))
    assert document["runtime"]["warning"] is None


def test_the_gpu_extra_in_one_command_is_answered_with_its_fix(wheel: Path, tmp_path: Path) -> None:
    bin_dir = _venv(tmp_path / "venv")
    where = tmp_path
    _ok([str(bin_dir / "pip"), "install", "--quiet", f"{wheel}[gpu]"], where, bin_dir)
    providers = json.loads(_ok([str(bin_dir / "python"), "-c", PROVIDERS], where, bin_dir))
    if CUDA not in providers:
        # The CPU build went down last (setup.cfg): the commands say so and name the fix.
        report = _ok([str(bin_dir / "painter-match"), "model"], where, bin_dir)
        (warning,) = [line.strip() for line in report.splitlines() if "no CUDA although" in line]
        fix = warning.split("put the GPU build back with: ", 1)[1]
        assert fix.startswith("pip install --force-reinstall --no-deps onnxruntime-gpu==")
        _ok([str(bin_dir / fix.split()[0]), *fix.split()[1:], "--quiet"], where, bin_dir)
        providers = json.loads(_ok([str(bin_dir / "python"), "-c", PROVIDERS], where, bin_dir))
    assert CUDA in providers
    document = json.loads(_ok([str(bin_dir / "painter-match"), "model", "--json"], where, bin_dir))
    assert document["runtime"]["warning"] is None and CUDA in document["runtime"]["providers"]
    _ok([str(bin_dir / "pip"), "check"], where, bin_dir)
