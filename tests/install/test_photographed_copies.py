"""Yardstick c's photographed copies (`bench.photographed_copies`): fold 0's held-out paintings of
both shared folders, each photographed once per strength, seeded, kept when already there."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench import photographed_copies
from painter_match.data.catalogue import artist_key, read_catalogue
from painter_match.data.selection import fold_artists


def _shared_data(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for folder in photographed_copies.FOLDERS:
        for a in range(8):
            artist = root / folder / f"{folder[:4]}_artist_{a}"
            artist.mkdir(parents=True)
            for p in range(3):
                pixels = rng.integers(0, 255, (40, 56, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(artist / f"painting_{p}.jpg", quality=90)
    return root


def _held_out_artists(data: Path) -> set[str]:
    paintings = read_catalogue(
        [data / folder for folder in photographed_copies.FOLDERS], subset="train"
    ).paintings
    keys = fold_artists(paintings, photographed_copies.FOLD)
    return {a for a in paintings["artist"] if artist_key(a) in keys}


def test_every_held_out_painting_is_photographed_once_per_strength_and_kept(tmp_path: Path) -> None:
    data = _shared_data(tmp_path / "data")
    held_out = _held_out_artists(data)
    assert 0 < len(held_out) < 16
    broken = next(iter(sorted(held_out)))
    folder = next(f for f in photographed_copies.FOLDERS if (data / f / broken).is_dir())
    # One held-out painting cannot be read: it is left out, not a reason to stop.
    (data / folder / broken / "painting_0.jpg").write_bytes(b"not a jpeg")

    out = tmp_path / "copies"
    written = photographed_copies.write_copies(data, out, (0.5, 1.0), quiet=True)
    copies = sorted(p.relative_to(out) for p in out.rglob("*.jpg"))
    assert written == len(copies) == 2 * (3 * len(held_out) - 1)
    assert {p.parts[0] for p in copies} == {"s0.5", "s1.0"}
    assert {p.parts[2] for p in copies} == held_out
    assert Path("s1.0", folder, broken, "painting_0.jpg") not in copies
    with Image.open(out / copies[0]) as image:
        assert image.format == "JPEG"

    # Seeded: written again elsewhere, every copy is the same bytes; here, nothing is rewritten.
    again = tmp_path / "again"
    photographed_copies.write_copies(data, again, (1.0,), quiet=True)
    for path in (again / "s1.0").rglob("*.jpg"):
        assert path.read_bytes() == (out / path.relative_to(again)).read_bytes()
    assert photographed_copies.write_copies(data, out, (0.5, 1.0), quiet=True) == 0
    # The strengths differ: a stronger photograph is not the weaker one.
    first = Path(*copies[-1].parts[1:])
    assert (out / "s0.5" / first).read_bytes() != (out / "s1.0" / first).read_bytes()


def test_without_the_shared_data_it_says_so_and_skips(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert photographed_copies.main(["--data", str(tmp_path), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert "is absent: nothing to photograph; skipping" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()
