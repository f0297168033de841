"""The fault suite for `score`: what it does when things go wrong.

Split by command from the first fault suite (the others: test_embed_faults.py,
test_verify_faults.py, test_export_faults.py); `fault_kit` has its checks and the `data`
and `work` fixtures are in tests/conftest.py. Each case builds its own bad input (or a full
disk, a signal, a second run) and checks the four things a user depends on: the exit code;
exactly one line on stderr, and no traceback; the inputs, and any output that must survive,
byte for byte; and no temporary file left behind. We run as root, so a full or read-only disk
is a monkeypatched write rather than a real one.
"""

from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
import pytest
from disk_faults import fill_disk
from fault_kit import IMAGES
from fault_kit import cli_code as _cli_code
from fault_kit import leftovers as _leftovers
from fault_kit import one_line as _one_line
from fault_kit import python as _python
from fault_kit import run as _run
from fault_kit import snapshot as _snapshot
from fault_kit import wait_for as _wait_for
from onnx_models import tiny_info

from painter_match import atomic
from painter_match.data.views import Views
from painter_match.inference.embeddings import Embeddings, EmbeddingSource, save_embeddings

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


# --- 2. a folder or disk that refuses the output ----------------------------------------------


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


# --- 7, 8. signals, kill -9, and two runs at once ----------------------------------------------


_SLOW_SCORING = """
import time
from pathlib import Path
import painter_match.inference.scoring.engine as scoring
def slow(*args, **kwargs):
    Path({marker!r}).touch()
    time.sleep(120)
scoring.pairwise_cosine = slow
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
