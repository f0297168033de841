"""`painter-match embed` on a tiny hand-built ONNX model: the file it writes, views, the model
from the environment, unreadable images, resume, a killed run, bad models, and no torch."""

from __future__ import annotations

import csv
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from cli_kit import REPO
from cli_kit import one_line_error as _one_line_error
from cli_kit import run as _run
from no_torch import NO_TORCH
from onnx_models import tiny_info, write_tiny_model

from painter_match.cli import main
from painter_match.inference.embeddings import load_embeddings, partial_path
from painter_match.inference.encoder import OnnxEncoder

# --- embed ---------------------------------------------------------------------------------------


def test_embed_writes_paths_vectors_and_model(
    images: Path, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "e.npz"
    code, stdout, _ = _run(["embed", str(images), "-o", str(out), "-m", str(models["a"]), "--json"], capsys)
    assert code == 0
    summary = json.loads(stdout)
    files = sorted(p.name for p in images.iterdir())
    assert summary["images"] == summary["embedded"] == len(files) and summary["unreadable"] == 0
    assert summary["model"]["provider"] == "CPUExecutionProvider"
    embeddings = load_embeddings(out)
    assert embeddings.paths == files
    assert embeddings.root == str(images.resolve())
    np.testing.assert_allclose(np.linalg.norm(embeddings.vectors, axis=1), 1.0, atol=1e-5)
    assert embeddings.source.info.identity == tiny_info(tag="a").identity
    assert not partial_path(out).exists() and not (tmp_path / "e.errors.csv").exists()


def test_embed_text_output_names_the_provider(
    images: Path, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, err = _run(
        ["embed", str(images), "-o", str(tmp_path / "e.npz"), "-m", str(models["a"])], capsys
    )
    assert code == 0 and "images/s" in stdout
    assert "on CPUExecutionProvider" in err


def test_embed_views_option_changes_the_vectors(
    images: Path, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["-m", str(models["a"]), "--quiet"]
    assert main(["embed", str(images), "-o", str(tmp_path / "1.npz"), *base]) == 0
    assert main(["embed", str(images), "-o", str(tmp_path / "5.npz"), "--views", "4", *base]) == 0
    one, five = load_embeddings(tmp_path / "1.npz"), load_embeddings(tmp_path / "5.npz")
    assert one.source.identity != five.source.identity and five.source.views.crops == 4
    assert not np.allclose(one.vectors, five.vectors)


def test_model_from_environment(
    images: Path, models: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAINTER_MATCH_MODEL", str(models["b"]))
    assert main(["embed", str(images), "-o", str(tmp_path / "e.npz"), "--quiet"]) == 0
    assert load_embeddings(tmp_path / "e.npz").source.info.identity == tiny_info(tag="b").identity


def test_unreadable_image_is_skipped_and_listed_or_strict(
    images: Path, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (images / "zz_broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    out = tmp_path / "e.npz"
    code, stdout, _ = _run(["embed", str(images), "-o", str(out), "-m", str(models["a"]), "--json"], capsys)
    assert code == 0
    summary = json.loads(stdout)
    assert summary["unreadable"] == 1 and summary["embedded"] == summary["images"] - 1
    with open(tmp_path / "e.errors.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["path"] for r in rows] == ["zz_broken.jpg"] and rows[0]["cause"]
    assert "zz_broken.jpg" not in load_embeddings(out).paths

    strict = ["embed", str(images), "-o", str(tmp_path / "s.npz"), "-m", str(models["a"]), "--strict", "-q"]
    code, _, err = _run(strict, capsys)
    assert code == 1
    assert "zz_broken.jpg" in _one_line_error(err) and "--strict" in err
    assert not (tmp_path / "s.npz").exists()


def test_existing_output_needs_resume_or_force(
    images: Path, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["embed", str(images), "-o", str(tmp_path / "e.npz"), "-m", str(models["a"]), "-q"]
    assert main(args) == 0
    code, _, err = _run(args, capsys)
    assert code == 1 and "--resume" in _one_line_error(err) and "--force" in err
    assert main([*args, "--force"]) == 0
    capsys.readouterr()
    code, stdout, _ = _run([*args, "--resume", "--json"], capsys)
    assert code == 0 and json.loads(stdout)["embedded"] == 0
    with pytest.raises(SystemExit) as caught:
        main([*args, "--resume", "--force"])
    assert caught.value.code == 2


def test_interrupted_run_resumes_with_only_the_rest(
    images: Path,
    models: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "e.npz"
    args = ["embed", str(images), "-o", str(out), "-m", str(models["a"]), "--batch-size", "4", "--json"]
    total = len(list(images.iterdir()))
    original = OnnxEncoder.embed_pixels
    calls = {"n": 0}

    def interrupt_on_third_batch(self: OnnxEncoder, views: list[np.ndarray]) -> np.ndarray:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self, views)

    monkeypatch.setattr(OnnxEncoder, "embed_pixels", interrupt_on_third_batch)
    code, _, err = _run(args, capsys)
    assert code == 130 and "--resume" in err
    partial = load_embeddings(partial_path(out))
    assert len(partial) == 8 and not out.exists()

    monkeypatch.setattr(OnnxEncoder, "embed_pixels", original)
    code, stdout, _ = _run([*args, "--resume"], capsys)
    assert code == 0
    summary = json.loads(stdout)
    assert summary["resumed"] == 8 and summary["embedded"] == total - 8
    assert not partial_path(out).exists()

    clean = tmp_path / "clean.npz"
    assert main(["embed", str(images), "-o", str(clean), "-m", str(models["a"]), "-q"]) == 0
    resumed, reference = load_embeddings(out), load_embeddings(clean)
    assert resumed.paths == reference.paths
    np.testing.assert_allclose(resumed.vectors, reference.vectors, atol=1e-4)


def test_resume_refuses_to_mix_models(
    images: Path, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "e.npz")
    assert main(["embed", str(images), "-o", out, "-m", str(models["a"]), "-q"]) == 0
    code, _, err = _run(["embed", str(images), "-o", out, "-m", str(models["b"]), "--resume"], capsys)
    assert code == 1 and "cannot be mixed" in _one_line_error(err)
    code, _, err = _run(
        ["embed", str(images), "-o", out, "-m", str(models["a"]), "--resume", "--views", "2"], capsys
    )
    assert code == 1 and "cannot be mixed" in err


def test_a_re_export_of_the_same_weights_is_the_same_model(
    images: Path, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The same weights exported a day later: only the export time differs.
    again = write_tiny_model(tmp_path / "again.onnx", info=tiny_info(tag="a", created="2026-01-02T09:30:00Z"))
    out = tmp_path / "e.npz"
    assert main(["embed", str(images), "-o", str(out), "-m", str(models["a"]), "-q"]) == 0
    code, _, err = _run(["embed", str(images), "-o", str(out), "-m", str(again), "--resume", "-q"], capsys)
    assert code == 0, err
    query = tmp_path / "outside.png"  # not in the file: embedded with -m
    shutil.copy(sorted(images.iterdir())[0], query)
    code, _, err = _run(["similar", str(query), "--embeddings", str(out), "-m", str(again)], capsys)
    assert code == 0, err
    code, _, err = _run(["similar", str(query), "--embeddings", str(out), "-m", str(models["b"])], capsys)
    assert code == 1 and "was made by model" in _one_line_error(err)


def test_killed_run_saves_progress(images: Path, models: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "e.npz"
    marker = tmp_path / "started"
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from painter_match.inference.encoder import OnnxEncoder\n"
        "original = OnnxEncoder.embed_pixels\n"
        "def slow(self, views):\n"
        f"    Path({str(marker)!r}).touch()\n"
        "    time.sleep(0.3)\n"
        "    return original(self, views)\n"
        "OnnxEncoder.embed_pixels = slow\n"
        "from painter_match.cli import main\n"
        f"sys.exit(main(['embed', {str(images)!r}, '-o', {str(out)!r}, '-m', {str(models['a'])!r},"
        " '--batch-size', '2', '-q']))\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True, cwd=REPO)
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    done = len(load_embeddings(partial_path(out)))
    assert 0 < done < len(list(images.iterdir()))
    assert main(["embed", str(images), "-o", str(out), "-m", str(models["a"]), "-q", "--resume"]) == 0
    assert len(load_embeddings(out)) == len(list(images.iterdir()))


def test_embed_never_imports_torch(images: Path, models: dict[str, Path], tmp_path: Path) -> None:
    code = (
        NO_TORCH + "from painter_match.cli import main\n"
        f"assert main(['embed', {str(images)!r}, '-o', {str(tmp_path / 'e.npz')!r}, '-m', {str(models['a'])!r},"
        " '--quiet']) == 0\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=REPO
    )
    assert result.returncode == 0, result.stderr


# --- models -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("which", "expected"),
    [("missing", "not found"), ("bare", "not a painter-match model"), ("v99", "schema version")],
)
def test_bad_models_say_how_to_make_one(
    which: str,
    expected: str,
    images: Path,
    models: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model = models.get(which, tmp_path / "nothing.onnx")
    code, _, err = _run(["embed", str(images), "-o", str(tmp_path / "e.npz"), "-m", str(model)], capsys)
    assert code == 1
    assert expected in _one_line_error(err) and "make export" in err
