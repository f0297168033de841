"""The README's Quick start runs as written, with the packaged model, on a folder of paintings."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pandas as pd
import pytest

from painter_match.cli import main

REPO = Path(__file__).resolve().parents[2]


def _quick_start() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    head = text.split("\n## ", 2)
    assert head[1].startswith("Quick start"), "the README's first section is not the Quick start"
    assert text[: text.index("## Quick start")].count("\n") < 30, (
        "the Quick start must be in the first 30 lines"
    )
    block = re.search(r"```sh\n(.*?)```", head[1], re.S)
    assert block, "the Quick start has no sh block"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_the_quick_start_is_short_and_starts_with_the_install() -> None:
    lines = _quick_start()
    assert 3 <= len(lines) <= 6
    assert lines[0].startswith("pip install")
    assert all(line.startswith("painter-match ") for line in lines[1:])


def test_the_quick_start_runs_as_written(
    readable_paintings: list[Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    readable = readable_paintings
    folder, test = tmp_path / "my-paintings", tmp_path / "test"
    folder.mkdir()
    test.mkdir()
    for i, source in enumerate(readable):
        shutil.copy(source, folder / f"p{i:02d}.jpg")
        shutil.copy(source, test / f"t{i:02d}.jpg")
    for name, source in zip(("unknown.jpg", "a.jpg", "b.jpg"), readable):
        shutil.copy(source, folder / name)
    names = sorted(p.name for p in test.iterdir())
    pd.DataFrame({"index": range(len(names) - 1), "image1": names[:-1], "image2": names[1:]}).to_csv(
        tmp_path / "submission_info.csv", index=False
    )
    monkeypatch.delenv("PAINTER_MATCH_MODEL", raising=False)
    monkeypatch.chdir(tmp_path)  # no ./models/ here: the packaged model answers
    for line in _quick_start()[1:]:
        argv = shlex.split(line)[1:]
        assert main([*argv, "-q"]) == 0, line
        capsys.readouterr()
    submission = pd.read_csv(tmp_path / "submission.csv")
    assert list(submission.columns) == ["index", "sameArtist"]
    assert len(submission) == len(names) - 1
    assert submission["sameArtist"].between(0, 1).all()
    assert (tmp_path / "my-paintings.npz").is_file()
