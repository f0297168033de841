"""The fault suite: what every inference command does when things go wrong.

Each case builds its own bad input (or a full disk, a signal, a second run) and checks the four
things a user depends on: the exit code; exactly one line on stderr, and no traceback; the inputs,
and any output that must survive, byte for byte; and no temporary file left behind. Runs go
through `main()` in this process where only the exit code matters, and through a subprocess where
signals, ``kill -9`` or peak memory do. We run as root, so a full or read-only disk is a
monkeypatched write rather than a real one.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from disk_faults import fill_disk, free_disk
from fault_kit import IMAGES, make_data
from onnx_models import tiny_info, write_tiny_model
from PIL import Image

from painter_match import atomic
from painter_match.cli import main
from painter_match.data.views import Views
from painter_match.inference.embeddings import (
    Embeddings,
    EmbeddingSource,
    load_embeddings,
    partial_path,
    save_embeddings,
)

REPO = Path(__file__).parent.parent


# --- helpers ---------------------------------------------------------------------------------


def _snapshot(*folders: Path) -> dict[str, bytes]:
    """Every file under the folders, by path: inputs and outputs to compare byte for byte."""
    return {str(p): p.read_bytes() for folder in folders for p in sorted(folder.rglob("*")) if p.is_file()}


def _leftovers(folder: Path) -> list[str]:
    """Temporary and lock files of painter-match (or of the writers it replaced) under a folder."""
    return sorted(
        p.name
        for p in folder.rglob("*")
        if atomic.TEMP_TAG in p.name or p.name.endswith((".tmp", atomic.LOCK_SUFFIX))
    )


def _one_line(err: str, prefix: str = "painter-match: error: ") -> str:
    """The single line on stderr, checked to start with ``prefix``; no traceback, nothing else."""
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(prefix), err
    return lines[0]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main([*argv, "-q"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _python(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _cli_code(argv: list[str], prelude: str = "") -> str:
    """Python source that runs ``painter-match ARGV`` after ``prelude`` and exits with its code."""
    return f"import sys\n{prelude}\nfrom painter_match.cli import main\nsys.exit(main({argv!r}))\n"


def _wait_for(path: Path, process: subprocess.Popen[str]) -> None:
    """Wait until ``path`` exists (the child reached the point to interrupt), or the child ended."""
    deadline = time.monotonic() + 120
    while not path.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert path.exists(), process.communicate()


# --- data, made here --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny model, a folder of small paintings, a pairs file and its solution (read-only)."""
    return make_data(tmp_path_factory.mktemp("faults"))


@pytest.fixture()
def work(data: dict[str, Path], tmp_path: Path) -> Path:
    """An empty folder for this test's outputs."""
    return tmp_path


# --- 1. an output is never lost --------------------------------------------------------------


def test_score_refuses_an_existing_output_without_force(
    data: dict[str, Path], work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = work / "submission.csv"
    out.write_bytes(b"yesterday's submission")
    argv = ["score", str(data["pairs"]), "--embeddings", str(data["e"]), "-o", str(out)]
    code, _, err = _run(argv, capsys)
    assert code == 1 and "already exists; pass --force" in _one_line(err)
    assert out.read_bytes() == b"yesterday's submission"
    code, _, _ = _run([*argv, "--force"], capsys)
    assert code == 0 and out.read_text().startswith("index,sameArtist\n") and _leftovers(work) == []


@pytest.mark.parametrize("victim", ["e", "solution", "pairs", "link to e"])
def test_score_never_writes_over_its_own_inputs(
    victim: str, data: dict[str, Path], work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = _snapshot(data["root"])
    out = data["e"] if victim == "link to e" else data[victim]
    if victim == "link to e":
        out = work / "link.npz"
        out.symlink_to(data["e"])
    argv = ["score", str(data["pairs"]), "--embeddings", str(data["e"]), "--solution", str(data["solution"])]
    code, _, err = _run([*argv, "-o", str(out), "--force"], capsys)
    assert code == 1 and "would destroy the input" in _one_line(err)
    assert _snapshot(data["root"]) == inputs and _leftovers(data["root"]) == []


def test_export_refuses_an_existing_model_and_its_own_checkpoint(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch", reason="export needs the [train] extra")
    from painter_match.commands.export import main as export_main

    checkpoint = work / "best.pt"
    checkpoint.write_bytes(b"a checkpoint")
    model = work / "model.onnx"
    model.write_bytes(b"the model in use")
    for argv, expected in (
        ([str(checkpoint), "-o", str(model)], "already exists; pass --force"),
        ([str(checkpoint), "-o", str(checkpoint), "--force"], "is the checkpoint"),
    ):
        assert export_main([*argv, "--quiet"]) == 1
        assert expected in _one_line(capsys.readouterr().err, "error: ")
    assert checkpoint.read_bytes() == b"a checkpoint" and model.read_bytes() == b"the model in use"
    assert _leftovers(work) == []


# --- 2. a folder or disk that refuses the output ----------------------------------------------


@pytest.mark.parametrize("command", ["embed", "score"])
def test_an_unwritable_output_folder_is_found_before_any_work(
    command: str,
    data: dict[str, Path],
    work: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import painter_match.inference.model as model_module

    def no_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was opened before the output was checked")

    monkeypatch.setattr(model_module, "open_model", no_work)
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


def test_score_on_a_full_disk(
    data: dict[str, Path], work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = work / "s.csv"
    out.write_bytes(b"the submission before")
    fill_disk(monkeypatch, lambda name: name.startswith(".s.csv"))
    code, _, err = _run(
        ["score", str(data["pairs"]), "--embeddings", str(data["e"]), "-o", str(out), "--force"], capsys
    )
    assert code == 1 and f"cannot write {out}: No space left on device" in _one_line(err)
    assert out.read_bytes() == b"the submission before" and _leftovers(work) == []


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

_SLOW_SCORING = """
import time
from pathlib import Path
import painter_match.inference.scoring as scoring
def slow(*args, **kwargs):
    Path({marker!r}).touch()
    time.sleep(120)
scoring.pairwise_cosine = slow
"""

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


def test_score_stopped_by_sigterm_says_so_and_cleans_up(data: dict[str, Path], work: Path) -> None:
    out = work / "s.csv"
    out.write_bytes(b"the submission before")
    marker = work / "scoring"
    argv = ["score", str(data["pairs"]), "--embeddings", str(data["e"]), "-o", str(out), "--force", "-q"]
    process = _python(_cli_code(argv, _SLOW_SCORING.format(marker=str(marker))))
    _wait_for(marker, process)
    assert [n for n in _leftovers(work) if atomic.TEMP_TAG in n]  # it was writing
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert (
        _one_line(err, "painter-match: interrupted; ")
        == f"painter-match: interrupted; nothing was written to {out}"
    )
    assert out.read_bytes() == b"the submission before" and _leftovers(work) == []


def test_the_temporary_file_of_a_killed_score_is_removed_by_the_next_run(
    data: dict[str, Path], work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = work / "s.csv"
    marker = work / "scoring"
    argv = ["score", str(data["pairs"]), "--embeddings", str(data["e"]), "-o", str(out), "-q"]
    process = _python(_cli_code(argv, _SLOW_SCORING.format(marker=str(marker))))
    _wait_for(marker, process)
    process.kill()
    process.communicate(timeout=60)
    stale = [n for n in _leftovers(work) if atomic.TEMP_TAG in n]
    assert len(stale) == 1 and stale[0].startswith(f".s.csv{atomic.TEMP_TAG}{process.pid}-")
    assert not out.exists()
    code, _, err = _run(argv[:-1], capsys)
    assert code == 0, err
    assert out.read_text().startswith("index,sameArtist\n") and _leftovers(work) == []


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


# The command line of `python -m export` around an exporter that hangs; the package's torch-heavy
# modules are stood in for, since only the command's handling of SIGTERM is under test.
_SLOW_EXPORT = """
import sys, time, types
from pathlib import Path
def slow(*args, **kwargs):
    Path({marker!r}).touch()
    time.sleep(120)
package = types.ModuleType("painter_match.train.export")
package.__path__ = [{folder!r}]
package.export_model = slow
sys.modules["painter_match.train.export"] = package
graph = types.ModuleType("painter_match.train.export.graph")
graph.OPSET = 18
sys.modules["painter_match.train.export.graph"] = graph
from export.__main__ import main
sys.exit(main({argv!r}))
"""


def test_export_stopped_by_sigterm_says_so_and_leaves_the_model(work: Path) -> None:
    checkpoint, model, marker = work / "best.pt", work / "model.onnx", work / "exporting"
    checkpoint.write_bytes(b"a checkpoint")
    model.write_bytes(b"the model in use")
    argv = [str(checkpoint), "-o", str(model), "--force", "--quiet"]
    process = _python(
        _SLOW_EXPORT.format(marker=str(marker), folder=str(REPO / "painter_match" / "export"), argv=argv)
    )
    _wait_for(marker, process)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert _one_line(err, "interrupted; ") == f"interrupted; nothing was written to {model}"
    assert model.read_bytes() == b"the model in use" and checkpoint.read_bytes() == b"a checkpoint"


def test_export_runs_outside_the_main_thread(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch", reason="export needs the [train] extra")
    from painter_match.commands.export import main as export_main

    (work / "model.onnx").write_bytes(b"the model in use")
    codes: list[int] = []
    argv = [str(work / "best.pt"), "-o", str(work / "model.onnx"), "--quiet"]
    worker = threading.Thread(target=lambda: codes.append(export_main(argv)))
    worker.start()
    worker.join()
    assert codes == [1] and "already exists" in _one_line(capsys.readouterr().err, "error: ")


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


@pytest.fixture(scope="module")
def strips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 100000 x 1 PNG (a few hundred bytes), a 50:1 one that is still a painting, a 12-megapixel
    scan, an ordinary painting, and a 64 px model (read-only)."""
    root = tmp_path_factory.mktemp("strips")
    folder = root / "images"
    folder.mkdir()
    Image.new("RGB", (100_000, 1), (200, 30, 30)).save(folder / "strip.png")
    pixels = (np.random.default_rng(1).random((40, 2000, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(folder / "scroll.png")
    Image.fromarray(pixels[:, :48]).save(folder / "normal.png")
    Image.new("RGB", (4000, 3000), (40, 90, 160)).save(folder / "scan.png")
    model = write_tiny_model(root / "m64.onnx", info=tiny_info(input_size=64))
    return {"folder": folder, "model": model}


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


# --- 3, 4, 5. nothing to work with, and damaged embeddings files -----------------------------


def test_score_with_none_of_the_images_found(
    data: dict[str, Path], work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = work / "s.csv"
    argv = ["score", str(data["pairs"]), "--images", str(work), "-m", str(data["model"]), "-o", str(out)]
    code, _, err = _run(argv, capsys)
    line = _one_line(err)
    assert code == 1 and f"none of the {IMAGES} images named in {data['pairs']} could be read" in line
    assert "0.png: file not found" in line and list(work.iterdir()) == []


def _save(path: Path, names: list[str], vectors: np.ndarray) -> Path:
    source = EmbeddingSource(tiny_info(), Views())
    return save_embeddings(path, Embeddings(paths=names, vectors=vectors.astype(np.float32), source=source))


def test_score_with_an_empty_embeddings_file(
    work: Path, data: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    empty = _save(work / "empty.npz", [], np.empty((0, 16)))
    code, _, err = _run(
        ["score", str(data["pairs"]), "--embeddings", str(empty), "-o", str(work / "s.csv")], capsys
    )
    assert code == 1 and "holds no embeddings" in _one_line(err) and not (work / "s.csv").exists()


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


def _damaged(kind: str) -> tuple[list[str], np.ndarray, str]:
    names = [f"{i}.png" for i in range(4)]
    vectors = np.eye(4, 16)
    if kind == "nan":
        vectors[2, 3] = np.nan
        return names, vectors, "'2.png' (row 2) is not finite"
    if kind == "inf":
        vectors[1, 0] = -np.inf
        return names, vectors, "'1.png' (row 1) is not finite"
    if kind == "duplicate":
        return [*names[:3], "1.png"], vectors, "'1.png' is stored twice"
    if kind == "same after normalising":
        return [*names[:3], "./sub/../1.png"], vectors, "'./sub/../1.png' is stored twice (as '1.png')"
    if kind == "outside":
        return [*names[:3], "../1.png"], vectors, "'../1.png' points outside"
    return [*names[:3], "/etc/1.png"], vectors, "'/etc/1.png' is an absolute path"


@pytest.mark.parametrize("kind", ["nan", "inf", "duplicate", "same after normalising", "outside", "absolute"])
@pytest.mark.parametrize("command", ["score", "similar"])
def test_a_damaged_embeddings_file_is_refused_on_loading(
    kind: str, command: str, data: dict[str, Path], work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names, vectors, expected = _damaged(kind)
    damaged = _save(work / "damaged.npz", names, vectors)
    before = damaged.read_bytes()
    if command == "score":
        argv = ["score", str(data["pairs"]), "--embeddings", str(damaged), "-o", str(work / "s.csv")]
    else:
        argv = ["similar", "0.png", "--embeddings", str(damaged)]
    code, stdout, err = _run(argv, capsys)
    assert code == 1 and expected in _one_line(err) and stdout == ""
    assert damaged.read_bytes() == before and [p.name for p in work.iterdir()] == ["damaged.npz"]


# --- messages that used to mislead -------------------------------------------------------------


def test_a_model_folder_is_named_as_a_folder(
    data: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    image = str(data["images"] / "0.png")
    code, _, err = _run(["verify", image, image, "-m", str(data["root"])], capsys)
    assert code == 1 and "is a folder; pass the .onnx file itself" in _one_line(err)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("index,image1,image2\n0,0.png,1.png\n".encode("utf-16"), "is UTF-16 or UTF-32 text"),
        (b"index,image1,image2\n0,0.png,1.png\n1,0.png,1.png,2.png\n", "row 3 has 4 fields, the header 3"),
        (b"index,image1,image2\n0,0.png,1.png\n12345678901234567890,0.png,1.png\n", "row 3 has index="),
    ],
)
def test_a_bad_pairs_file_is_named_with_its_row(
    content: bytes, expected: str, data: dict[str, Path], work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pairs = work / "pairs.csv"
    pairs.write_bytes(content)
    argv = ["score", str(pairs), "--embeddings", str(data["e"]), "-o", str(work / "s.csv")]
    code, _, err = _run(argv, capsys)
    line = _one_line(err)
    assert code == 1 and expected in line and "\x00" not in err
    if "index=" in expected:
        assert "'12345678901234567890'; expected an integer from 0 to 2147483647" in line
    assert [p.name for p in work.iterdir()] == ["pairs.csv"]


def test_an_auc_on_part_of_the_pairs_says_on_how_many(
    data: dict[str, Path], work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    solution = work / "part.csv"
    solution.write_text("index,sameArtist\n1,1\n2,0\n3,1\n4,0\n")
    argv = ["score", str(data["pairs"]), "--embeddings", str(data["e"]), "--solution", str(solution)]
    code, stdout, err = _run([*argv, "-o", str(work / "s.csv")], capsys)
    assert code == 0, err
    assert f"against {solution}, on 4 of the {IMAGES} pairs (those it labels)" in stdout


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ("1,1\n99,0\n", "row 3 has index 99, which"),
        ("1,1\n2,maybe\n", "row 3 has sameArtist='maybe'; expected 0 or 1"),
        ("1,1\n1,0\n", "row 3 repeats index 1"),
    ],
)
def test_a_bad_solution_leaves_the_submission_alone(
    rows: str, expected: str, data: dict[str, Path], work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    solution = work / "bad.csv"
    solution.write_text(f"index,sameArtist\n{rows}")
    out = work / "s.csv"
    out.write_bytes(b"the submission before")
    argv = ["score", str(data["pairs"]), "--embeddings", str(data["e"]), "--solution", str(solution)]
    code, _, err = _run([*argv, "-o", str(out), "--force"], capsys)
    assert code == 1 and expected in _one_line(err)
    assert out.read_bytes() == b"the submission before" and _leftovers(work) == []


def test_names_are_matched_in_one_spelling_from_images_or_embeddings(
    data: dict[str, Path], work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pairs = work / "pairs.csv"
    pairs.write_text("index,image1,image2\n0,./0.png,1.png\n1,sub/../2.png, 3.png\n2,0.png,.//1.png\n")
    from_embeddings, from_images = work / "a.csv", work / "b.csv"
    code, stdout, err = _run(
        ["score", str(pairs), "--embeddings", str(data["e"]), "-o", str(from_embeddings), "--json"], capsys
    )
    assert code == 0 and '"filled": 0' in stdout, err
    argv = ["score", str(pairs), "--images", str(data["images"]), "-m", str(data["model"]), "--json"]
    code, stdout, err = _run([*argv, "-o", str(from_images)], capsys)
    assert code == 0 and '"filled": 0' in stdout, err
    assert from_embeddings.read_bytes() == from_images.read_bytes()
    rows = from_embeddings.read_text().splitlines()
    assert rows[1].split(",")[1] == rows[3].split(",")[1]  # ./0.png,1.png is 0.png,.//1.png
