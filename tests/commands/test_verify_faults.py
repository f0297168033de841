"""The fault suite for `verify`: a degenerate image, the pixel limit, and a model folder, each
one line.

Split by command from the first fault suite (see test_score_faults.py); the `data`, `work` and
`strips` fixtures are in tests/conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fault_kit import one_line as _one_line
from fault_kit import run as _run

# --- 9, 10. images that would cost too much memory -------------------------------------------


def test_verify_refuses_a_degenerate_image_in_one_line(
    strips: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = strips["folder"]
    argv = ["verify", str(folder / "strip.png"), str(folder / "normal.png"), "-m", str(strips["model"])]
    code, _, err = _run(argv, capsys)
    line = _one_line(err)
    assert (
        code == 1
        and "strip.png: image is 100000x1 (aspect ratio 100,000:1): resizing its shorter side" in line
    )
    assert "crop it to a less elongated shape" in line


@pytest.mark.parametrize("command", ["verify", "embed"])
def test_max_pixels_is_an_option(
    command: str, data: dict[str, Path], work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = data["images"] / "0.png"  # 48 x 40 = 1,920 pixels
    if command == "verify":
        argv = ["verify", str(image), str(data["images"] / "1.png")]
    else:  # --strict: the first unreadable image stops the run, so its cause is the error
        argv = ["embed", str(data["images"]), "-o", str(work / "e.npz"), "--strict"]
    code, _, err = _run([*argv, "-m", str(data["model"]), "--max-pixels", "1919"], capsys)
    line = _one_line(err)
    assert code == 1 and "0.png: image is 48x40 = 1,920 pixels to decode, above the limit of 1,919" in line
    assert "raise it with --max-pixels" in line


# --- messages that used to mislead -------------------------------------------------------------


def test_a_model_folder_is_named_as_a_folder(
    data: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    image = str(data["images"] / "0.png")
    code, _, err = _run(["verify", image, image, "-m", str(data["root"])], capsys)
    assert code == 1 and "is a folder; pass the .onnx file itself" in _one_line(err)
