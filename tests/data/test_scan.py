"""`scan`: presence, decodability with causes, artist statistics, the real train_info.csv's size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from painter_match.data.scan import format_report, scan


def test_scan_of_synth_finds_its_corrupt_files(synth_dir: Path) -> None:
    report = scan(synth_dir, workers=2)
    listed = pd.read_csv(synth_dir / "all_data_info.csv")
    assert report.layout == "kaggle" and report.source == "all_data_info.csv"
    assert report.listed == len(listed) == report.present
    assert report.missing == 0
    assert report.unreadable == 3
    assert all(entry["cause"] for entry in report.unreadable_files)
    assert report.usable == report.listed - 3
    assert report.train_images == int(listed["in_train"].sum())
    assert report.listed_artists == listed["artist"].nunique()


def test_scan_without_decoding_does_not_look_inside(synth_dir: Path) -> None:
    report = scan(synth_dir, decode=False)
    assert report.unreadable == 0 and not report.decoded
    assert "not decoded" in format_report(report)


def test_real_sized_train_info_with_most_files_absent(tmp_path: Path) -> None:
    rows = 79_433
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "filename": [f"{i}.jpg" for i in range(rows)],
            "artist": [f"{a:032x}" for a in rng.integers(0, 1584, rows)],
            "title": np.where(np.arange(rows) % 7 == 0, 'Still life, with "pears"', "Étude №3"),
            "style": "Impressionism",
            "genre": "landscape",
            "date": np.where(np.arange(rows) % 3 == 0, "", "c.1890"),
        }
    )
    frame.to_csv(tmp_path / "train_info.csv", index=False)
    (tmp_path / "train").mkdir()
    present = [0, 1, 2, 3, 50_000]
    for i in present:
        Image.new("RGB", (40, 30), (i % 255, 90, 30)).save(tmp_path / "train" / f"{i}.jpg")
    (tmp_path / "train" / "4.jpg").write_bytes(b"")  # listed, present, unreadable
    Image.new("RGB", (20, 20)).save(tmp_path / "train" / "extra.png")  # on disk, not listed

    report = scan(tmp_path)
    assert report.listed == rows
    assert report.present == len(present) + 1
    assert report.missing == rows - len(present) - 1
    assert report.unreadable == 1
    assert report.unreadable_files[0]["path"] == "train/4.jpg"
    assert report.usable == len(present)
    assert report.unlisted == 1
    assert len(report.missing_examples) == 20
    text = format_report(report)
    assert "79,433 listed" in text and "train/4.jpg" in text


def test_artist_statistics_count_single_painting_artists(tmp_path: Path) -> None:
    for artist, n in {"a": 1, "b": 3, "c": 5}.items():
        (tmp_path / artist).mkdir()
        for i in range(n):
            Image.new("RGB", (16, 16)).save(tmp_path / artist / f"{i}.png")
    (tmp_path / "c" / "broken.jpg").write_text("hello")
    stats = scan(tmp_path).usable_artists
    assert (stats.artists, stats.min, stats.median, stats.max, stats.fewer_than_two) == (3, 1, 3.0, 5, 1)
