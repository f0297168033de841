"""The synthetic painters: determinism, the exact Kaggle layout, image kinds, pairs, safety, difficulty."""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageFile

from painter_match.data.synth import ALL_DATA_INFO_COLUMNS, SynthConfig, SynthConfigError, generate
from painter_match.errors import DataError
from painter_match.evaluation.baselines import colour_histogram
from painter_match.inference.similarity import pairwise_cosine
from painter_match.metrics import roc_auc

SMALL = SynthConfig(
    seed=5,
    artists=5,
    test_artists=3,
    paintings=6,
    group_size=10,
    corrupt=3,
    min_size=64,
    max_size=160,
    workers=1,
)


def _read(path: Path) -> pd.DataFrame:
    """A CSV as the text it holds (pandas would turn "True" and "1885.0" into other types)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for column in ("pixelsx", "pixelsy", "size_bytes"):
        if column in frame:
            frame[column] = frame[column].astype(int)
    return frame


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small") / "data"
    generate(out, SMALL)
    return out


@pytest.fixture(scope="module")
def info(small: Path) -> pd.DataFrame:
    return _read(small / "all_data_info.csv")


@pytest.fixture(autouse=True)
def strict_decoding() -> Iterator[None]:
    # Truncated JPEGs only fail when Pillow is not told to accept them.
    before = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    yield
    ImageFile.LOAD_TRUNCATED_IMAGES = before


def _decodes(path: Path) -> bool:
    try:
        with Image.open(path) as image:
            image.load()
    except (OSError, SyntaxError, ValueError):
        return False
    return True


def test_same_seed_gives_identical_bytes_for_any_worker_count(small: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate(again, dataclasses.replace(SMALL, workers=2))
    first, second = _files(small), _files(again)
    assert sorted(first) == sorted(second)
    assert first == second


def test_different_seed_gives_different_data(small: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    generate(other, dataclasses.replace(SMALL, seed=6))
    assert _files(small) != _files(other)
    assert (small / "all_data_info.csv").read_bytes() != (other / "all_data_info.csv").read_bytes()


def test_csv_headers_are_exactly_kaggles(small: Path) -> None:
    def header(name: str) -> str:
        with (small / name).open(encoding="utf-8") as handle:
            return handle.readline().rstrip("\n")

    assert header("train_info.csv") == "filename,artist,title,style,genre,date"
    assert header("all_data_info.csv") == (
        "artist,date,genre,pixelsx,pixelsy,size_bytes,source,style,title,artist_group,in_train,new_filename"
    )
    assert header("submission_info.csv") == "index,image1,image2"
    assert header("solution.csv") == "index,sameArtist"
    assert tuple(header("all_data_info.csv").split(",")) == ALL_DATA_INFO_COLUMNS


def test_every_listed_file_exists_in_its_folder_and_nothing_else(small: Path, info: pd.DataFrame) -> None:
    assert set(info["in_train"]) == {"True", "False"}
    train = info[info["in_train"] == "True"]
    test = info[info["in_train"] == "False"]
    assert sorted(p.name for p in (small / "train").iterdir()) == sorted(train["new_filename"])
    assert sorted(p.name for p in (small / "test").iterdir()) == sorted(test["new_filename"])
    assert sorted(p.name for p in small.iterdir()) == sorted(
        ["train", "test", "train_info.csv", "all_data_info.csv", "submission_info.csv", "solution.csv"]
    )
    names = info["new_filename"]
    assert names.is_unique
    assert names.str.fullmatch(r"\d+\.(jpg|png)").all()
    # train_info.csv lists exactly the training images, with the same text.
    train_info = _read(small / "train_info.csv")
    merged = train_info.merge(train, left_on="filename", right_on="new_filename", validate="one_to_one")
    assert len(merged) == len(train) == len(train_info)
    for column in ("artist", "title", "style", "genre", "date"):
        assert (merged[f"{column}_x"] == merged[f"{column}_y"]).all()


def test_test_set_holds_seen_and_unseen_artists(small: Path, info: pd.DataFrame) -> None:
    train_artists = set(info.loc[info["in_train"] == "True", "artist"])
    test_artists = set(info.loc[info["in_train"] == "False", "artist"])
    assert test_artists & train_artists, "no artist seen in training is in test/"
    assert test_artists - train_artists, "no unseen artist in test/"
    assert len(train_artists) == SMALL.artists
    assert len(test_artists - train_artists) == SMALL.test_artists
    groups = info.groupby("artist")["artist_group"].agg(set)
    assert (groups.map(len) == 1).all()
    group = groups.map(lambda g: next(iter(g)))
    for artist, kind in group.items():
        expected = {
            (True, True): "train_and_test",
            (True, False): "train_only",
            (False, True): "test_only",
        }[(artist in train_artists, artist in test_artists)]
        assert kind == expected, artist
    train_info = _read(small / "train_info.csv")
    assert not set(train_info["artist"]) & set(group[group == "test_only"].index)


def test_image_kinds_and_sizes(small: Path, info: pd.DataFrame) -> None:
    modes: set[tuple[str | None, str]] = set()
    for row in info.itertuples():
        path = small / ("train" if row.in_train == "True" else "test") / row.new_filename
        assert path.stat().st_size == row.size_bytes
        if not _decodes(path):
            continue
        with Image.open(path) as image:
            modes.add((image.format, image.mode))
            assert image.size == (row.pixelsx, row.pixelsy)
            assert SMALL.min_size <= max(image.size) <= SMALL.max_size
            assert 0.45 <= image.width / image.height <= 2.2
            assert (image.format == "PNG") == row.new_filename.endswith(".png")
    assert {("JPEG", "RGB"), ("PNG", "RGB"), ("JPEG", "L"), ("JPEG", "CMYK")} <= modes
    heights = info["pixelsy"].to_numpy()
    widths = info["pixelsx"].to_numpy()
    assert (heights > widths).any() and (widths > heights).any()  # portrait and landscape


def test_corrupt_files_fail_to_decode_and_are_listed(small: Path, info: pd.DataFrame) -> None:
    bad = []
    for row in info.itertuples():
        path = small / ("train" if row.in_train == "True" else "test") / row.new_filename
        if not _decodes(path):
            bad.append(path)
    assert len(bad) == SMALL.corrupt
    contents = [path.read_bytes() for path in bad]
    assert any(len(data) == 0 for data in contents)  # 0-byte file
    assert any(data.startswith(b"\xff\xd8") for data in contents)  # truncated JPEG
    assert any(data.lstrip().startswith(b"<") for data in contents)  # text named .jpg
    assert all(path.suffix == ".jpg" for path in bad)


def _pair_table(root: Path) -> pd.DataFrame:
    pairs = pd.read_csv(root / "submission_info.csv")
    truth = pd.read_csv(root / "solution.csv")
    assert list(pairs["index"]) == list(range(len(pairs)))
    assert list(truth["index"]) == list(range(len(truth)))
    return pairs.merge(truth, on="index", validate="one_to_one")


def test_group_pairs_are_every_pair_within_groups(small: Path, info: pd.DataFrame) -> None:
    pairs = _pair_table(small)
    test = info[info["in_train"] == "False"]
    artist = dict(zip(test["new_filename"], test["artist"]))
    # Ground truth agrees with the catalogue.
    expected = [int(artist[a] == artist[b]) for a, b in zip(pairs["image1"], pairs["image2"])]
    assert pairs["sameArtist"].tolist() == expected
    assert set(pairs["sameArtist"]) == {0, 1}
    keys = {frozenset(p) for p in zip(pairs["image1"], pairs["image2"])}
    assert len(keys) == len(pairs) and all(len(k) == 2 for k in keys)
    # Groups are the connected components of the pair graph; each must be complete.
    neighbours: dict[str, set[str]] = {name: set() for name in artist}
    for a, b in zip(pairs["image1"], pairs["image2"]):
        neighbours[a].add(b)
        neighbours[b].add(a)
    seen: set[str] = set()
    sizes = []
    for start in neighbours:
        if start in seen:
            continue
        component, stack = {start}, [start]
        while stack:
            for other in neighbours[stack.pop()] - component:
                component.add(other)
                stack.append(other)
        seen |= component
        sizes.append(len(component))
        for name in component:
            assert neighbours[name] == component - {name}
    assert max(sizes) <= SMALL.group_size
    assert sum(sizes) == len(test)  # every test image is in a group
    assert len(pairs) == sum(n * (n - 1) // 2 for n in sizes)


def test_balanced_pairs_are_half_same_artist(tmp_path: Path) -> None:
    config = dataclasses.replace(SMALL, balanced_pairs=41, corrupt=0)
    summary = generate(tmp_path / "b", config)
    pairs = _pair_table(tmp_path / "b")
    assert len(pairs) == 41 == summary.pairs
    assert pairs["sameArtist"].sum() == 20 == summary.same_artist_pairs
    assert len({frozenset(p) for p in zip(pairs["image1"], pairs["image2"])}) == 41
    info = _read(tmp_path / "b" / "all_data_info.csv")
    test = info[info["in_train"] == "False"]
    artist = dict(zip(test["new_filename"], test["artist"]))
    assert [int(artist[a] == artist[b]) for a, b in zip(pairs["image1"], pairs["image2"])] == list(
        pairs["sameArtist"]
    )


def test_balanced_pairs_beyond_the_test_set_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="--balanced-pairs"):
        generate(tmp_path / "b", dataclasses.replace(SMALL, balanced_pairs=100_000))
    assert list(tmp_path.iterdir()) == []


def test_realistic_csv_text(small: Path, info: pd.DataFrame) -> None:
    text = (small / "all_data_info.csv").read_text(encoding="utf-8")
    assert not text.isascii()
    assert info["title"].str.contains(",").any()
    assert info["title"].str.contains('"').any() or info["title"].str.contains("'").any()
    dates = info["date"]
    assert dates.str.fullmatch(r"\d{4}").any()
    assert (
        (dates == "").any()
        or dates.str.fullmatch(r"c\.\d{4}").any()
        or dates.str.fullmatch(r"\d{4}\.0").any()
    )
    # The csv module reads back exactly what pandas sees: quoting is right.
    with (small / "all_data_info.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert all(len(row) == len(ALL_DATA_INFO_COLUMNS) for row in rows)
    assert [row[8] for row in rows[1:]] == info["title"].tolist()


def test_progress_total_is_known_in_advance(tmp_path: Path) -> None:
    calls: list[int] = []
    config = dataclasses.replace(SMALL, corrupt=1)
    summary = generate(tmp_path / "p", config, advance=calls.append)
    assert sum(calls) == config.total_paintings() == summary.paintings
    assert summary.train_images + summary.test_images == summary.paintings + summary.corrupt
    assert summary.to_dict()["out_dir"] == str(tmp_path / "p")
    assert "same-artist" in summary.describe()


def test_existing_folder_is_refused_then_replaced_with_force(tmp_path: Path) -> None:
    out = tmp_path / "data"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match="--force"):
        generate(out, SMALL)
    assert (out / "keep.txt").read_text() == "mine"
    generate(out, SMALL, force=True)
    assert not (out / "keep.txt").exists()
    assert (out / "all_data_info.csv").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["data"]  # no temporary folder left behind


def test_empty_existing_folder_is_used_and_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    generate(
        tmp_path / "empty", dataclasses.replace(SMALL, artists=2, test_artists=1, paintings=2, corrupt=0)
    )
    assert (tmp_path / "empty" / "solution.csv").is_file()
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="not a folder"):
        generate(tmp_path / "file", SMALL)


def test_interrupted_run_leaves_nothing(tmp_path: Path) -> None:
    def interrupt(_: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate(tmp_path / "data", SMALL, advance=interrupt)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("change", "flag"),
    [
        ({"artists": 1}, "--artists"),
        ({"test_artists": -1}, "--test-artists"),
        ({"paintings": 1}, "--paintings"),
        ({"test_fraction": 1.0}, "--test-fraction"),
        ({"test_fraction": -0.1}, "--test-fraction"),
        ({"test_fraction": 0.0, "test_artists": 0}, "--test-artists"),
        ({"group_size": 1}, "--group-size"),
        ({"balanced_pairs": 1}, "--balanced-pairs"),
        ({"corrupt": -1}, "--corrupt"),
        ({"min_size": 8}, "--min-size"),
        ({"min_size": 500, "max_size": 400}, "--max-size"),
        ({"workers": -1}, "--workers"),
        ({"seed": -1}, "--seed"),
        ({"artists": 2.5}, "--artists"),
    ],
)
def test_invalid_config_is_rejected_naming_the_option(change: dict[str, object], flag: str) -> None:
    with pytest.raises(SynthConfigError, match=flag) as caught:
        SynthConfig(**change)  # type: ignore[arg-type]
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, DataError)


def _centre_pixels(path: Path, size: int = 64) -> np.ndarray:
    with Image.open(path) as image:
        rgb = image.convert("RGB")
    side = min(rgb.size)
    left, top = (rgb.width - side) // 2, (rgb.height - side) // 2
    square = rgb.crop((left, top, left + side, top + side))
    return np.asarray(square.resize((size, size), Image.Resampling.BILINEAR))


def test_colour_histogram_is_a_weak_but_real_cue(tmp_path: Path) -> None:
    """Colour alone must neither fail (the palettes mean something) nor solve the task."""
    aucs = []
    for seed in (0, 1, 2):
        out = tmp_path / f"s{seed}"
        config = SynthConfig(
            seed=seed, artists=12, test_artists=6, paintings=8, min_size=64, max_size=128, workers=1
        )
        generate(out, config)
        info = _read(out / "all_data_info.csv")
        test = info[info["in_train"] == "False"]
        features = np.stack(
            [colour_histogram(_centre_pixels(out / "test" / name)) for name in test["new_filename"]]
        )
        artists = test["artist"].to_numpy()
        # Every test pair, not just the listed ones: more pairs, a steadier estimate.
        i, j = np.triu_indices(len(artists), 1)
        aucs.append(roc_auc(artists[i] == artists[j], pairwise_cosine(features, i, j)))
    assert 0.55 <= float(np.mean(aucs)) <= 0.80, aucs
