"""`painter-match verify` on a tiny hand-built ONNX model: text and JSON, the prior, an
unavailable provider, and unreadable or missing images."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
from cli_kit import one_line_error as _one_line_error
from cli_kit import run as _run
from onnx_models import tiny_info, write_tiny_model

# --- models -------------------------------------------------------------------------------------


def test_unavailable_provider_is_a_clear_error(
    images: Path, models: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    first = str(next(images.iterdir()))
    code, _, err = _run(["verify", first, first, "-m", str(models["a"]), "--provider", "tensorrt"], capsys)
    assert code == 1 and 'pip install "painter-match[gpu]"' in _one_line_error(err)


# --- verify -------------------------------------------------------------------------------------


def test_verify_text_and_json(
    images: Path, models: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = sorted(images.iterdir())[:2]
    code, stdout, _ = _run(["verify", str(a), str(a), "-m", str(models["a"]), "--json"], capsys)
    assert code == 0
    same = json.loads(stdout)
    assert same["similarity"] == pytest.approx(1.0, abs=1e-4) and same["same_artist"] is True
    assert same["probability"] == pytest.approx(float(tiny_info().calibration.probability(1.0)), abs=1e-4)
    code, stdout, _ = _run(["verify", str(a), str(b), "-m", str(models["a"]), "--views", "2"], capsys)
    assert code == 0 and "P(same artist)" in stdout and "threshold 0.5000" in stdout


def test_verify_prior_moves_the_probability_and_the_verdict(
    images: Path, models: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = sorted(images.iterdir())[:2]
    argv = ["verify", str(a), str(b), "-m", str(models["a"]), "--json"]
    plain = json.loads(_run(argv, capsys)[1])
    rare = json.loads(_run([*argv, "--prior", "0.01"], capsys)[1])
    moved = tiny_info().calibration.at_prior(0.01)
    assert plain["prior"] is None and rare["prior"] == 0.01
    assert rare["similarity"] == plain["similarity"]
    assert rare["probability"] == pytest.approx(float(moved.probability(rare["similarity"])), abs=1e-6)
    assert rare["probability"] < plain["probability"] and rare["threshold"] > plain["threshold"]
    # The cut moves by the log-odds shift over the slope (8): past 1, so nothing is "same" at 1%.
    assert rare["threshold"] == pytest.approx(0.5 - math.log(0.01 / 0.99) / 8.0) and rare["threshold"] > 1
    itself = ["verify", str(a), str(a), "-m", str(models["a"]), "--json", "--prior"]
    assert json.loads(_run([*itself, "0.01"], capsys)[1])["same_artist"] is False
    at_a_fifth = json.loads(_run([*itself, "0.2"], capsys)[1])
    assert at_a_fifth["same_artist"] is True
    assert at_a_fifth["probability"] == pytest.approx(
        float(tiny_info().calibration.at_prior(0.2).probability(1.0)), abs=1e-5
    )
    code, stdout, _ = _run(["verify", str(a), str(b), "-m", str(models["a"]), "--prior", "0.01"], capsys)
    assert code == 0 and "at a prior share of same-artist pairs of 0.01" in stdout


def test_prior_needs_a_calibration_that_records_its_share(
    images: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hand_set = replace(tiny_info(), calibration=replace(tiny_info().calibration, positive_share=0.0))
    model = write_tiny_model(tmp_path / "hand.onnx", info=hand_set)
    a, b = sorted(images.iterdir())[:2]
    code, _, err = _run(["verify", str(a), str(b), "-m", str(model), "--prior", "0.1"], capsys)
    assert code == 1 and "records no share of same-artist pairs" in _one_line_error(err) and str(model) in err
    assert _run(["verify", str(a), str(b), "-m", str(model)], capsys)[0] == 0


def test_verify_unreadable_or_missing_image(
    images: Path, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = str(next(images.iterdir()))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"garbage")
    for other in (bad, tmp_path / "absent.jpg"):
        code, _, err = _run(["verify", a, str(other), "-m", str(models["a"])], capsys)
        assert code == 1 and other.name in _one_line_error(err)
