"""The fault suite for `embed`: an output folder or disk that refuses it, a second run, options
and images that would cost too much memory, and a folder with nothing readable.

Split by command from the first fault suite (see test_score_faults.py); the `data`, `work` and
`strips` fixtures are in tests/conftest.py.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from disk_faults import fill_disk, free_disk
from fault_kit import IMAGES, REPO
from fault_kit import cli_code as _cli_code
from fault_kit import leftovers as _leftovers
from fault_kit import one_line as _one_line
from fault_kit import python as _python
from fault_kit import run as _run
from fault_kit import wait_for as _wait_for

from painter_match.inference.embeddings import load_embeddings, partial_path

# --- 2. a folder or disk that refuses the output ----------------------------------------------


@pytest.mark.parametrize("command", ["embed", "score"])
def test_an_unwritable_output_folder_is_found_before_any_work(
    command: str,
    data: dict[str, Path],
    work: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import painter_match.inference.api as api_module

    def no_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was opened before the output was checked")

    # Where `load` looks the name up (api imports it by name), so an early open fails the test.
    monkeypatch.setattr(api_module, "open_model", no_work)
    real_open = os.open

    def read_only(path: object, flags: int, *args: object) -> int:
        if flags & os.O_CREAT and str(path).startswith(str(work)):
            raise OSError(errno.EROFS, "Read-only file system")
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", read_only)
    out = work / ("e.npz" if command == "embed" else "s.csv")
    source = (
        [str(data["images"])] if command == "embed" else [str(data["pairs"]), "--images", str(data["images"])]
    )
    code, _, err = _run([command, *source, "-o", str(out), "-m", str(data["model"])], capsys)
    line = _one_line(err)
    assert code == 1 and f"cannot write {out}: Read-only file system" in line
    assert list(work.iterdir()) == []


def test_an_output_in_a_missing_folder_or_a_folder_itself_is_refused(
    data: dict[str, Path], work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (work / "taken").mkdir()
    for out, expected in ((work / "absent" / "e.npz", "does not exist"), (work / "taken", "is a folder")):
        code, _, err = _run(
            ["embed", str(data["images"]), "-o", str(out), "-m", str(data["model"]), "--force"], capsys
        )
        assert code == 1 and expected in _one_line(err)
    assert [p.name for p in work.iterdir()] == ["taken"] and list((work / "taken").iterdir()) == []


@pytest.fixture()
def save_every_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make embed write its partial file after every batch."""
    import painter_match.inference.folder as embed

    monkeypatch.setattr(embed, "SAVE_EVERY_S", 0.0)
    monkeypatch.setattr(embed, "SAVE_SHARE", 1e9)


def test_embed_on_a_disk_that_fills_up_keeps_the_last_partial_file(
    data: dict[str, Path],
    work: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    save_every_batch: None,
) -> None:
    out = work / "e.npz"
    partial = partial_path(out)
    saves = {"n": 0}

    def full_after_two_saves(name: str) -> bool:
        saves["n"] += name.startswith(f".{partial.name}")
        return saves["n"] > 2

    fill_disk(monkeypatch, full_after_two_saves)
    argv = ["embed", str(data["images"]), "-o", str(out), "-m", str(data["model"]), "--batch-size", "2"]
    code, _, err = _run(argv, capsys)
    line = _one_line(err)
    assert code == 1 and f"cannot write {partial}: No space left on device" in line
    assert f"the 4 images saved last are kept in {partial}" in line and "--resume" in line
    assert len(load_embeddings(partial)) == 4 and not out.exists() and _leftovers(work) == []

    free_disk(monkeypatch)
    code, _, _ = _run([*argv, "--resume"], capsys)
    assert code == 0 and load_embeddings(out).paths == load_embeddings(data["e"]).paths
    np.testing.assert_array_equal(load_embeddings(out).vectors, load_embeddings(data["e"]).vectors)
    assert not partial.exists() and _leftovers(work) == []


def test_embed_whose_final_write_fails_keeps_its_progress(
    data: dict[str, Path],
    work: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    save_every_batch: None,
) -> None:
    out = work / "e.npz"
    fill_disk(monkeypatch, lambda name: name.startswith(".e.npz"))  # the partial file still fits
    code, _, err = _run(["embed", str(data["images"]), "-o", str(out), "-m", str(data["model"])], capsys)
    line = _one_line(err)
    assert code == 1 and f"cannot write {out}: No space left on device" in line
    assert f"progress saved in {partial_path(out)} ({IMAGES} images)" in line
    assert len(load_embeddings(partial_path(out))) == IMAGES and not out.exists() and _leftovers(work) == []


# --- 7, 8. signals, kill -9, and two runs at once ----------------------------------------------


_SLOW_EMBEDDING = """
import time
from pathlib import Path
from painter_match.inference.encoder import OnnxEncoder
original = OnnxEncoder.embed_pixels
def slow(self, views):
    Path({marker!r}).touch()
    time.sleep(120)
    return original(self, views)
OnnxEncoder.embed_pixels = slow
"""


def test_a_second_embed_of_the_same_output_is_refused_and_a_killed_one_is_recovered(
    data: dict[str, Path], work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = work / "e.npz"
    marker = work / "embedding"
    argv = ["embed", str(data["images"]), "-o", str(out), "-m", str(data["model"]), "--batch-size", "2", "-q"]
    first = _python(_cli_code(argv, _SLOW_EMBEDDING.format(marker=str(marker))))
    _wait_for(marker, first)
    code, _, err = _run([*argv[:-1], "--force"], capsys)
    line = _one_line(err)
    assert code == 1 and f"another embed run (process {first.pid}) is writing {out}" in line
    assert not out.exists()
    first.kill()  # kill -9: no cleanup at all, the lock file stays behind
    first.communicate(timeout=60)
    code, _, err = _run([*argv[:-1], "--force"], capsys)
    assert code == 0, err
    assert load_embeddings(out).paths == load_embeddings(data["e"]).paths and _leftovers(work) == []


# --- 6. options that multiply memory -----------------------------------------------------------


def test_views_beyond_the_bound_are_a_usage_error(data: dict[str, Path], work: Path) -> None:
    argv = [
        "embed",
        str(data["images"]),
        "-o",
        str(work / "e.npz"),
        "-m",
        str(data["model"]),
        "--views",
        "1000",
    ]
    result = subprocess.run([sys.executable, "-c", _cli_code(argv)], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--views: must be from 0 to 64, got 1000" in result.stderr and list(work.iterdir()) == []


def test_views_and_batch_size_beyond_the_machine_are_a_usage_error(
    data: dict[str, Path], work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import painter_match.inference.runtime as runtime  # the API decides, for the CLI too

    monkeypatch.setattr(runtime, "machine_memory", lambda: 256 << 20)
    out = work / "e.npz"
    argv = ["embed", str(data["images"]), "-o", str(out), "-m", str(data["model"]), "--views", "64"]
    code, _, err = _run([*argv, "--batch-size", "64"], capsys)
    line = _one_line(err, "painter-match embed: error: ")
    assert code == 2 and "--views 64 with --batch-size 64 on this 32 px model needs about" in line
    assert "lower --batch-size to 26 or less" in line and list(work.iterdir()) == []
    code, _, err = _run([*argv, "--batch-size", "26"], capsys)
    assert code == 0, err


# --- 9, 10. images that would cost too much memory -------------------------------------------


# Peak resident memory of the child itself. Not resource.getrusage: Linux carries the parent's
# peak into ru_maxrss across exec (the pytest process forking the child is far larger than it);
# VmHWM belongs to the child's own address space.
_PEAK_MEMORY = """
import sys
from painter_match.cli import main
code = main({argv!r})
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(int(status["VmHWM"].split()[0]) // 1024)  # MiB
sys.exit(code)
"""


# The bound this project states for one image (README, "What happens when things go wrong").
PEAK_MIB = 512


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory is read from /proc (Linux)")
def test_a_degenerate_image_is_skipped_before_decoding_and_memory_stays_bounded(
    strips: dict[str, Path], work: Path
) -> None:
    out = work / "e.npz"
    argv = ["embed", str(strips["folder"]), "-o", str(out), "-m", str(strips["model"]), "-q"]
    result = subprocess.run(
        [sys.executable, "-c", _PEAK_MEMORY.format(argv=argv)], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    peak = int(result.stdout.split()[-1])
    assert peak < PEAK_MIB, f"peak {peak} MiB"
    assert load_embeddings(out).paths == ["normal.png", "scan.png", "scroll.png"]
    errors = (work / "e.errors.csv").read_text().splitlines()
    assert len(errors) == 2 and errors[1].startswith('strip.png,"image is 100000x1 (aspect ratio 100,000:1)')


# --- 3, 4, 5. nothing to work with, and damaged embeddings files -----------------------------


def test_embed_with_no_readable_image_says_so(
    data: dict[str, Path], work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = work / "broken"
    folder.mkdir()
    for name in ("a.png", "b.jpg", "c.png"):
        (folder / name).write_bytes(b"not an image")
    out = work / "e.npz"
    code, _, err = _run(["embed", str(folder), "-o", str(out), "-m", str(data["model"])], capsys)
    line = _one_line(err)
    assert code == 1 and f"none of the 3 images under {folder} could be embedded" in line
    assert not out.exists() and not partial_path(out).exists()
    errors = (work / "e.errors.csv").read_text().splitlines()
    assert errors[0] == "path,cause" and len(errors) == 4 and _leftovers(work) == []
