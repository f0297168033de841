"""`python -m bench` and `python -m export` as installed: no repository files around, and on an
inference-only install (no torch, no onnx) every comparison that needs them skipped in one line.

The packages are copied out of the repository into a folder of their own and run from another,
with torch, torchvision, onnx and onnxscript blocked in every process (a ``sitecustomize`` on
PYTHONPATH, which the bench's child processes inherit). tests/install/test_fresh_install.py does the
same for real in a fresh venv.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

BLOCK = """
import importlib.abc, sys
class _Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'torchvision', 'onnx', 'onnxscript'):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None
sys.meta_path.insert(0, _Blocked())
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """(a folder outside the repository to run in, the environment): bench and export copied out."""
    base = tmp_path_factory.mktemp("installed")
    site = base / "site"
    for package in ("bench", "export"):
        shutil.copytree(ROOT / package, site / package, ignore=shutil.ignore_patterns("__pycache__"))
    (base / "block").mkdir()
    (base / "block" / "sitecustomize.py").write_text(BLOCK)
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(base / "block"), str(site)])}
    return elsewhere, env


def _run(
    args: list[str], where: Path, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_the_copies_run_not_the_repositorys(installed: tuple[Path, dict[str, str]]) -> None:
    where, env = installed
    done = _run(
        ["-c", "import bench, export, painter_match.train; print(bench.__file__, export.__file__)"],
        where,
        env,
    )
    assert done.returncode == 0, done.stderr
    assert all(not Path(p).is_relative_to(ROOT) for p in done.stdout.split())
    blocked = _run(["-c", "import torch"], where, env)
    assert blocked.returncode == 1 and "No module named 'torch' (blocked)" in blocked.stderr


@pytest.mark.parametrize("package", ["bench", "export"])
def test_help_runs_with_no_repository_files(installed: tuple[Path, dict[str, str]], package: str) -> None:
    where, env = installed
    done = _run(["-m", package, "--help"], where, env)
    assert done.returncode == 0 and done.stdout.startswith("usage: python -m ") and done.stderr == ""


def test_export_without_torch_is_one_line(installed: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    where, env = installed
    checkpoint = tmp_path / "best.pt"
    checkpoint.write_bytes(b"not a checkpoint")
    done = _run(["-m", "export", str(checkpoint), "-o", str(tmp_path / "m.onnx")], where, env)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert "error: this command needs " in line and line.endswith('pip install "painter-match[train]"')


def test_the_bench_on_an_inference_install_skips_what_needs_torch(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    where, env = installed
    out = tmp_path / "bench.json"
    stages = "decode,model,embed,usual,real,score"
    args = ["-m", "bench", "--smoke", "--stage", stages, "--pairs", "5000", "-q"]
    done = _run([*args, "--workdir", str(tmp_path / "work"), "--json", str(out)], where, env)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    skipped = [line for line in done.stderr.splitlines() if line.startswith("bench: skipped ")]
    document = json.loads(out.read_text())
    assert [f"bench: skipped {line}" for line in document["skipped"]] == skipped
    assert not document["errors"]
    assert any("the usual loader" in line and "needs torch and torchvision" in line for line in skipped)
    assert any("ceiling" in line and "needs onnx," in line for line in skipped)
    assert any(
        line.startswith("bench: skipped model, embed and usual rows of compact-96") for line in skipped
    )
    assert any(
        line.startswith("bench: skipped real, part: the fp32 twin and the usual way") for line in skipped
    )
    assert all('pip install "painter-match[train]"' in line for line in skipped)
    # What the inference install can measure, it measures: decoding, the packaged model end to end, scoring.
    rows = document["rows"]
    assert any(r.get("loader") == "painter-match" for r in rows if r["stage"] == "decode")
    embed = [r for r in rows if r.get("real") == "embed"]
    assert len(embed) == 1 and embed[0]["value"] > 0 and embed[0]["source"] == "packaged default"
    assert {r.get("engine") for r in rows if r["stage"] == "score"} >= {"painter-match", "pandas"}
