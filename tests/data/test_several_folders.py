"""Several data folders read as one: one catalogue, one artist per name, fold lists, train and scan."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from painter_match.cli import main
from painter_match.data.catalogue import artist_key, read_artist_list, read_catalogue
from painter_match.data.selection import fold_artists, parse_fold, run_paintings, select_artists
from painter_match.errors import DataError


def _painting(path: Path, seed: int, size: int = 40, stripes: int = 1) -> None:
    """Noise over stripes whose count is the painter's "hand", so that a model has something to learn."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    x = np.arange(size)[None, :, None]
    hand = 127 + 100 * np.sin(x * stripes * np.pi / size + np.arange(3))
    noise = rng.normal(0, 20, (size, size, 3))
    Image.fromarray(np.clip(hand + noise, 0, 255).astype(np.uint8)).save(path)


def _folders(root: Path) -> tuple[Path, Path]:
    """Two sources: ``a`` (folder per artist) and ``b`` (Kaggle train_info.csv), sharing Claude Monet."""
    a, b = root / "a", root / "b"
    for artist, n in {"claude_monet": 3, "paul_klee": 2}.items():
        for i in range(n):
            _painting(a / artist / f"{i}.jpg", hash((artist, i)) % 1000)
    rows = ["filename,artist"]
    for i, artist in enumerate(["Claude Monet", "Claude Monet", "Gustav Klimt", "Gustav Klimt"]):
        _painting(b / "train" / f"{i}.jpg", 500 + i)
        rows.append(f"{i}.jpg,{artist}")
    (b / "train_info.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return a, b


def test_artist_key_ignores_spelling() -> None:
    assert artist_key("Claude Monet") == artist_key("claude_monet") == "claude_monet"
    assert artist_key("Pierre-Auguste Renoir") == artist_key("pierre_auguste_renoir")
    assert artist_key("Józef Chełmoński") == artist_key("jozef_chelmonski")
    assert artist_key("Paul Klee") != artist_key("Paul Klein")


def test_two_folders_of_two_layouts_are_one_catalogue(tmp_path: Path) -> None:
    a, b = _folders(tmp_path)
    catalogue = read_catalogue([a, b])
    assert catalogue.layout == "several" and catalogue.root == tmp_path.resolve()
    assert len(catalogue.paintings) == 9
    assert set(catalogue.paintings["path"]) >= {"a/claude_monet/0.jpg", "b/train/3.jpg"}
    # Monet in both folders is one artist, spelled as the first folder spells him.
    counts = catalogue.paintings["artist"].value_counts().to_dict()
    assert counts == {"claude_monet": 5, "Gustav Klimt": 2, "paul_klee": 2}
    assert all((catalogue.root / p).is_file() for p in catalogue.paintings["path"])
    # One folder alone reads exactly as before.
    assert read_catalogue([a]).paintings.equals(read_catalogue(a).paintings)


def test_a_folder_given_twice_or_inside_another_is_refused(tmp_path: Path) -> None:
    a, b = _folders(tmp_path)
    with pytest.raises(DataError, match="given twice"):
        read_catalogue([a, a])
    with pytest.raises(DataError, match="holds"):
        read_catalogue([tmp_path, a])


def test_artist_lists_select_and_exclude(tmp_path: Path) -> None:
    a, b = _folders(tmp_path)
    listing = tmp_path / "fold.txt"
    listing.write_text("# held out\nClaude Monet\n\ngustav_klimt  # a comment\n", encoding="utf-8")
    keys = read_artist_list(listing)
    assert keys == {"claude_monet", "gustav_klimt"}
    paintings = read_catalogue([a, b]).paintings
    assert set(select_artists(paintings, keys, keep=True)["artist"]) == {"claude_monet", "Gustav Klimt"}
    assert set(select_artists(paintings, keys, keep=False)["artist"]) == {"paul_klee"}
    _, kept, missing = run_paintings(
        [a, b], exclude_artists=listing, min_paintings=2, max_per_artist=None, seed=0
    )
    assert set(kept["artist"]) == {"paul_klee"} and missing == 0
    (tmp_path / "empty.txt").write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(DataError, match="names no artist"):
        read_artist_list(tmp_path / "empty.txt")


def test_scan_reports_each_folder_and_the_artists_in_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = _folders(tmp_path)
    assert main(["scan", str(a), str(b), "--json", "--no-decode"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [folder["listed"] for folder in report["folders"]] == [5, 4]
    assert (report["artists"], report["shared_artists"]) == (3, 1)


def test_train_reads_several_folders_and_keeps_excluded_artists_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch", reason="training needs the [train] extra (torch)")
    from painter_match.train.checkpoint import Checkpoint

    a, b = tmp_path / "a", tmp_path / "b"
    for k in range(8):  # 4 artists in each folder, one shared, 5 paintings each
        folder = a if k < 4 else b
        name = f"artist_{k}" if k != 4 else "artist_0"
        for i in range(5):
            _painting(folder / name / f"{k}_{i}.png", 100 * k + i, stripes=1 + (k % 4 if k != 4 else 0) * 3)
    held_out = tmp_path / "fold.txt"
    held_out.write_text("artist_7\n", encoding="utf-8")
    run = tmp_path / "run"
    argv = ["train", str(a), str(b), "-o", str(run), "--input-size", "32", "--embedding-dim", "16"]
    argv += ["--epochs", "1", "--artists-per-batch", "3", "--paintings-per-artist", "2", "--workers", "1"]
    argv += ["--val-fraction", "0.3", "--val-pairs", "50", "--exclude-artists", str(held_out), "--quiet"]
    assert main(argv) == 0
    state = Checkpoint.load(run / "last.pt")
    seen = set(state.train_artists) | set(state.val_artists)
    assert seen == {f"artist_{k}" for k in (0, 1, 2, 3, 5, 6)}  # artist_0 once; artist_7 held out
    assert state.config["data_dirs"] == [str(a), str(b)]

    fold = fold_artists(read_catalogue([a, b]).paintings, "1/3")
    argv[argv.index("--exclude-artists") : argv.index("--exclude-artists") + 2] = ["--hold-out-fold", "1/3"]
    argv[argv.index("-o") + 1] = str(tmp_path / "fold-run")
    assert main(argv) == 0
    state = Checkpoint.load(tmp_path / "fold-run" / "last.pt")
    seen = set(state.train_artists) | set(state.val_artists)
    assert fold and not fold & seen and seen | fold == {f"artist_{k}" for k in (0, 1, 2, 3, 5, 6, 7)}


def test_folds_partition_the_artists_and_depend_only_on_who_is_there(tmp_path: Path) -> None:
    a, b = _folders(tmp_path)
    paintings = read_catalogue([a, b]).paintings
    folds = [fold_artists(paintings, f"{k}/3") for k in range(3)]
    assert set().union(*folds) == {"claude_monet", "paul_klee", "gustav_klimt"}
    assert sum(len(f) for f in folds) == 3  # disjoint
    # The same artists in another order (or another folder order) give the same folds.
    assert [fold_artists(paintings.iloc[::-1], f"{k}/3") for k in range(3)] == folds
    for bad in ("3/3", "1/1", "x/4", "2"):
        with pytest.raises(ValueError, match="expected K/N"):
            parse_fold(bad)


def test_train_checks_presence_first_and_names_the_missing_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch", reason="training needs the [train] extra (torch)")
    data = tmp_path / "kaggle"
    rows = ["filename,artist"] + [f"{i}.jpg,artist_{i % 6}" for i in range(48)]
    (data / "train").mkdir(parents=True)
    (data / "train_info.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    run = tmp_path / "run"
    argv = [
        "train",
        str(data),
        "-o",
        str(run),
        "--input-size",
        "32",
        "--embedding-dim",
        "16",
        "--epochs",
        "1",
    ]
    argv += ["--artists-per-batch", "2", "--paintings-per-artist", "2", "--workers", "1", "--quiet"]
    argv += ["--val-fraction", "0.4", "--val-pairs", "40"]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "none of the 48 listed paintings is on disk" in err[0]
    assert not run.exists()
    for i in (i for i in range(48) if (i // 6) % 2 == 0):  # half of each artist's paintings arrive
        _painting(data / "train" / f"{i}.jpg", i, stripes=1 + 3 * (i % 6))
    assert main(argv) == 0
    assert "24 listed paintings are not on disk" in capsys.readouterr().out
