"""Fault suite, round 2: the one output rule (issue 24, D1-D4, D6, D22).

Every writer goes through `painter_match.atomic`: links followed, special files refused, an input
never written (links, hard links, an image inside an input folder), an existing file only with
``--force``, the folder must exist, and the output's lock held from the check to the end of the run.
"""

from __future__ import annotations

import os
import signal
import stat
from pathlib import Path

import pytest
from fault_kit import cli_code, leftovers, make_data, one_line, python, run, snapshot, wait_for

from painter_match import atomic
from painter_match.errors import OutputError


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_data(tmp_path_factory.mktemp("outputs"))


def _score(data: dict[str, Path], out: Path, *more: str) -> list[str]:
    return ["score", str(data["pairs"]), "--embeddings", str(data["e"]), "-o", str(out), *more]


# --- D1: special files and links ---------------------------------------------------------------


def test_d1_a_fifo_output_is_refused_even_with_force_and_stays_a_fifo(
    data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    code, _, err = run(_score(data, fifo, "--force"), capsys)
    assert code == 1 and "is a FIFO (named pipe), not a regular file" in one_line(err)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and leftovers(tmp_path) == []


def test_d1_a_character_device_output_is_refused_and_stays_a_device(
    data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    device = tmp_path / "full"
    try:  # a /dev/null of our own: the real /dev/full is not ours to risk
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("creating a device node needs root")
    code, _, err = run(_score(data, device, "--force"), capsys)
    assert code == 1 and f"-o {device} is a character device, not a regular file" in one_line(err)
    assert stat.S_ISCHR(os.lstat(device).st_mode)


def test_d1_a_symlink_output_is_followed_and_stays_a_link(
    data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "real" / "submission.csv"
    target.parent.mkdir()
    target.write_text("yesterday")
    link = tmp_path / "latest.csv"
    link.symlink_to(target)
    code, _, err = run(_score(data, link), capsys)
    assert code == 1 and "already exists; pass --force" in one_line(err)  # the target exists
    code, _, err = run(_score(data, link, "--force"), capsys)
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text().startswith("index,sameArtist\n") and leftovers(tmp_path) == []


def test_d1_a_dangling_link_writes_its_target(tmp_path: Path) -> None:
    link = tmp_path / "out.bin"
    link.symlink_to(tmp_path / "made.bin")
    atomic.write_bytes(link, b"new")
    assert link.is_symlink() and (tmp_path / "made.bin").read_bytes() == b"new"


# --- D2: --html onto an existing file ------------------------------------------------------------


def test_d2_verify_html_replaces_an_existing_page_only_with_force(
    data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "notes.html"
    page.write_text("my own notes")
    a, b = data["images"] / "1.png", data["images"] / "2.png"
    argv = ["verify", str(a), str(b), "-m", str(data["model"]), "--html", str(page)]
    code, _, err = run(argv, capsys)
    assert code == 1 and f"{page} already exists; pass --force to replace it" in one_line(err)
    assert page.read_text() == "my own notes"
    code, _, err = run([*argv, "--force"], capsys)
    assert code == 0, err
    assert page.read_text().startswith("<!DOCTYPE html>")


def test_d2_similar_html_replaces_an_existing_page_only_with_force(
    data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "notes.html"
    page.write_text("my own notes")
    argv = ["similar", "3.png", "--embeddings", str(data["e"]), "--html", str(page)]
    code, _, err = run(argv, capsys)
    assert code == 1 and "already exists; pass --force" in one_line(err)
    assert page.read_text() == "my own notes"
    code, _, err = run([*argv, "--force"], capsys)
    assert code == 0, err
    assert page.read_text().startswith("<!DOCTYPE html>")


# --- D3: --html and --roc against the run's inputs -------------------------------------------------


def test_d3_verify_html_never_writes_over_the_reference(
    data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference = tmp_path / "ref.npz"
    reference.write_bytes(b"a fitted reference")  # refused before it is read
    a, b = data["images"] / "1.png", data["images"] / "2.png"
    argv = ["verify", str(a), str(b), "-m", str(data["model"]), "--reference", str(reference)]
    code, _, err = run([*argv, "--html", str(reference), "--force"], capsys)
    line = one_line(err)
    assert code == 1 and f"--html {reference} is the reference file {reference}" in line
    assert "refused even with --force" in line and reference.read_bytes() == b"a fitted reference"


@pytest.mark.parametrize(("option", "victim"), [("--html", "solution"), ("--roc", "pairs")])
def test_d3_evaluate_html_and_roc_never_write_over_the_pairs_or_solution(
    option: str, victim: str, data: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(data["root"])
    argv = ["evaluate", str(data["model"]), str(data["images"]), "--pairs", str(data["pairs"])]
    argv += ["--solution", str(data["solution"]), "--no-baseline", option, str(data[victim]), "--force"]
    code, _, err = run(argv, capsys)
    what = {"solution": "solution file", "pairs": "pairs file"}[victim]
    assert code == 1 and f"{option} {data[victim]} is the {what}" in one_line(err)
    assert snapshot(data["root"]) == before


def test_d3_similar_html_never_writes_over_a_painting_it_shows(
    data: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(data["root"])
    painting = data["images"] / "4.png"
    argv = ["similar", "3.png", "--embeddings", str(data["e"]), "--html", str(painting), "--force"]
    code, _, err = run(argv, capsys)
    line = one_line(err)
    assert code == 1 and f"--html {painting} is an image inside the folder of images" in line
    assert snapshot(data["root"]) == before


def test_d3_an_output_hard_linked_to_an_input_is_refused(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("index,image1,image2\n")
    twin = tmp_path / "twin.csv"
    os.link(pairs, twin)
    with pytest.raises(OutputError, match="is the pairs file"):
        atomic.check_output(twin, force=True, inputs=[("pairs file", pairs)])


# --- D4: embed onto one of its own images ------------------------------------------------------------


def test_d4_embed_never_writes_over_an_image_it_embeds(
    data: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(data["root"])
    painting = data["images"] / "7.png"
    argv = ["embed", str(data["images"]), "-o", str(painting), "-m", str(data["model"]), "--force"]
    code, _, err = run(argv, capsys)
    line = one_line(err)
    assert code == 1 and f"-o {painting} is an image inside the folder of images {data['images']}" in line
    assert snapshot(data["root"]) == before and leftovers(data["root"]) == []


# --- D6: two runs writing one output ---------------------------------------------------------------

# The first `score` stops inside its write (its output claimed, its temporary file open).
_SLOW_SCORING = """
import time
from pathlib import Path
import painter_match.inference.scoring.engine as scoring
def slow(*args, **kwargs):
    Path({marker!r}).touch()
    time.sleep(300)
scoring.pairwise_cosine = slow
"""


def test_d6_a_second_score_to_the_same_output_is_refused_while_the_first_runs(
    data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, marker = tmp_path / "s.csv", tmp_path / "scoring"
    first = python(cli_code([*_score(data, out), "-q"], _SLOW_SCORING.format(marker=str(marker))))
    try:
        wait_for(marker, first)
        code, _, err = run(_score(data, out, "--force"), capsys)
        line = one_line(err)
        assert code == 1 and f"(process {first.pid}) is writing {out}" in line
        assert "wait for it to finish, or choose another output file" in line
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=120)
    assert first.returncode == 130 and not out.exists() and leftovers(tmp_path) == []


def test_d6_a_claim_is_shared_in_one_process_and_ends_with_the_write(tmp_path: Path) -> None:
    out = tmp_path / "o.csv"
    claim = atomic.check_output(out)
    atomic.check_output(out)  # the same run checking again
    with pytest.raises(OutputError, match="another embed run"), atomic.OutputLock(out, "embed"):
        atomic.OutputLock(out, "embed").acquire()  # two builders in one process: refused
    atomic.write_bytes(out, b"done")
    assert leftovers(tmp_path) == []  # written: the claims have done their job
    claim.release()  # and releasing again is harmless
    with atomic.check_output(out, force=True):
        assert leftovers(tmp_path) == [f".o.csv{atomic.LOCK_SUFFIX}"]
    assert leftovers(tmp_path) == []


# --- D22: no folder made silently --------------------------------------------------------------------


@pytest.mark.parametrize("command", ["verify", "similar"])
def test_d22_html_in_a_missing_folder_is_refused_and_nothing_is_made(
    command: str, data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "typo" / "dir" / "v.html"
    if command == "verify":
        argv = [
            "verify",
            str(data["images"] / "1.png"),
            str(data["images"] / "2.png"),
            "-m",
            str(data["model"]),
        ]
    else:
        argv = ["similar", "3.png", "--embeddings", str(data["e"])]
    code, _, err = run([*argv, "--html", str(page)], capsys)
    line = one_line(err)
    assert code == 1 and f"the folder {tmp_path / 'typo' / 'dir'} does not exist" in line
    assert not (tmp_path / "typo").exists()


def test_d22_evaluate_roc_in_a_missing_folder_is_refused_before_any_work(
    data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "plots" / "roc.png"
    argv = ["evaluate", str(data["model"]), str(data["images"]), "--pairs", str(data["pairs"])]
    argv += ["--solution", str(data["solution"]), "--no-baseline", "--roc", str(png)]
    code, _, err = run(argv, capsys)
    assert code == 1 and "does not exist" in one_line(err) and not png.parent.exists()
