"""The data layer: both layouts, bad CSVs, filtering, capping, artist-disjoint splits, pairs."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from painter_match.data.catalogue import detect_layout, read_catalogue
from painter_match.data.pair_files import read_solution, read_submission_info
from painter_match.data.pairs import sample_pairs
from painter_match.data.selection import cap_per_artist, filter_artists, split_by_artist
from painter_match.errors import DataError

# The real train_info.csv's traits: quoted titles with commas and quotes, empty and
# mixed-format dates, non-ASCII text, "NA" as a real title.
REAL_LIKE_TRAIN_INFO = (
    "\n".join(
        [
            "filename,artist,title,style,genre,date",
            '102257.jpg,5b39c876740bfc1cfaf544721c43cac3,"Uriel, the angel",Color Field Painting,abstract,1950.0',
            '75232.jpg,5b39c876740bfc1cfaf544721c43cac3,"Dawn, ""the first""",Color Field Painting,abstract,',
            "29855.jpg,96e5bc98488ed589b9bf17ad9fd09371,Vue de Montmartre,Post-Impressionism,landscape,c.1905",
            "62252.jpg,5b39c876740bfc1cfaf544721c43cac3,Мадонна с младенцем,Romanticism,religious painting,1856-1858",
            '63861.jpg,ad1ab2e5f5ca4d4b1f1cd7b1b8d0ba61,NA,Baroque,portrait,"May 1648"',
        ]
    )
    + "\n"
)


def write_image(
    path: Path, colour: tuple[int, int, int] = (120, 80, 40), size: tuple[int, int] = (48, 32)
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


def make_folders(root: Path, counts: dict[str, int]) -> None:
    for artist, n in counts.items():
        for i in range(n):
            write_image(root / artist / f"{i:03d}.jpg")


def test_reads_real_like_train_info(tmp_path: Path) -> None:
    (tmp_path / "train_info.csv").write_text(REAL_LIKE_TRAIN_INFO, encoding="utf-8")
    catalogue = read_catalogue(tmp_path)
    assert (catalogue.layout, catalogue.source) == ("kaggle", "train_info.csv")
    assert list(catalogue.paintings["path"]) == [
        "train/102257.jpg",
        "train/75232.jpg",
        "train/29855.jpg",
        "train/62252.jpg",
        "train/63861.jpg",
    ]
    assert catalogue.paintings["artist"].nunique() == 3
    assert catalogue.paintings["in_train"].all()


def test_all_data_info_sends_rows_to_train_and_test(tmp_path: Path) -> None:
    (tmp_path / "all_data_info.csv").write_text(
        "artist,title,in_train,new_filename\nA,x,True,1.jpg\nB,y,False,2.jpg\nA,z,false,3.png\n",
        encoding="utf-8",
    )
    catalogue = read_catalogue(tmp_path)
    assert list(catalogue.paintings["path"]) == ["train/1.jpg", "test/2.jpg", "test/3.png"]
    assert list(read_catalogue(tmp_path, subset="train").paintings["path"]) == ["train/1.jpg"]
    assert list(read_catalogue(tmp_path, subset="test").paintings["artist"]) == ["B", "A"]


def test_all_data_info_is_preferred_to_train_info(tmp_path: Path) -> None:
    (tmp_path / "train_info.csv").write_text(REAL_LIKE_TRAIN_INFO, encoding="utf-8")
    (tmp_path / "all_data_info.csv").write_text(
        "artist,in_train,new_filename\nA,True,1.jpg\n", encoding="utf-8"
    )
    assert detect_layout(tmp_path) == ("kaggle", "all_data_info.csv")


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        ("", "the file is empty"),
        ("artist,title\nA,x\n", "missing column(s) filename"),
        ("filename,artist\n1.jpg,A\n2.jpg,\n", "row 3 has an empty artist"),
        ("filename,artist\n1.jpg,A\n1.jpg,B\n", "row 3 lists '1.jpg' a second time"),
        (
            "filename,artist\n../../etc/passwd,A\n",
            "row 2 names '../../etc/passwd', which leaves the image folder",
        ),
        ("filename,artist\n", "no paintings listed"),
    ],
)
def test_bad_train_info_is_one_clear_error(tmp_path: Path, csv_text: str, message: str) -> None:
    (tmp_path / "train_info.csv").write_text(csv_text, encoding="utf-8")
    with pytest.raises(DataError) as caught:
        read_catalogue(tmp_path)
    assert message in str(caught.value)
    assert "train_info.csv" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_bad_in_train_value_names_row(tmp_path: Path) -> None:
    (tmp_path / "all_data_info.csv").write_text("artist,in_train,new_filename\nA,True,1.jpg\nB,maybe,2.jpg\n")
    with pytest.raises(DataError, match=r"row 3 has in_train='maybe'; expected True or False"):
        read_catalogue(tmp_path)


def test_test_subset_of_train_info_is_refused(tmp_path: Path) -> None:
    (tmp_path / "train_info.csv").write_text(REAL_LIKE_TRAIN_INFO, encoding="utf-8")
    with pytest.raises(DataError, match="training images only"):
        read_catalogue(tmp_path, subset="test")


def test_folder_per_artist(tmp_path: Path) -> None:
    make_folders(tmp_path, {"claude_monet": 3, "édouard_manet": 2})
    write_image(tmp_path / "claude_monet" / "series" / "nested.png")
    write_image(tmp_path / "stray.jpg")
    (tmp_path / "claude_monet" / "notes.txt").write_text("not an image")
    catalogue = read_catalogue(tmp_path)
    assert (catalogue.layout, catalogue.source) == ("folders", "folder-per-artist")
    counts = catalogue.paintings.groupby("artist").size().to_dict()
    assert counts == {"claude_monet": 4, "édouard_manet": 2}
    assert "claude_monet/series/nested.png" in set(catalogue.paintings["path"])
    assert catalogue.ignored == ("stray.jpg",)


def test_missing_or_empty_data_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such data folder"):
        read_catalogue(tmp_path / "nope")
    with pytest.raises(DataError, match="found neither"):
        read_catalogue(tmp_path)
    (tmp_path / "empty_artist").mkdir()
    with pytest.raises(DataError, match="no paintings listed"):
        read_catalogue(tmp_path)


def catalogue_frame(counts: dict[str, int]) -> pd.DataFrame:
    rows = [(f"{artist}/{i}.jpg", artist) for artist, n in counts.items() for i in range(n)]
    return pd.DataFrame(rows, columns=["path", "artist"]).assign(in_train=True)


def test_filter_and_cap() -> None:
    frame = catalogue_frame({"a": 1, "b": 2, "c": 9})
    assert sorted(filter_artists(frame, 2)["artist"].unique()) == ["b", "c"]
    capped = cap_per_artist(frame, 4, seed=1)
    assert capped.groupby("artist").size().to_dict() == {"a": 1, "b": 2, "c": 4}
    assert capped.equals(cap_per_artist(frame, 4, seed=1))  # reproducible
    assert not capped.equals(cap_per_artist(frame, 4, seed=2))
    assert list(capped.index) == list(range(len(capped)))
    # Table order kept: rows stay sorted as in the input.
    positions = [list(frame["path"]).index(p) for p in capped["path"]]
    assert positions == sorted(positions)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_split_is_artist_disjoint_and_covers_everything(seed: int) -> None:
    rng = np.random.default_rng(seed)
    frame = catalogue_frame({f"artist{i}": int(rng.integers(2, 30)) for i in range(25)})
    split = split_by_artist(frame, val_fraction=0.2, test_fraction=0.1, seed=seed)
    train, val, test = split.artists("train"), split.artists("val"), split.artists("test")
    assert train and val and test
    assert not (train & val) and not (train & test) and not (val & test)
    assert len(split.train) + len(split.val) + len(split.test) == len(frame)
    assert 0.1 < len(split.val) / len(frame) < 0.4
    again = split_by_artist(frame, val_fraction=0.2, test_fraction=0.1, seed=seed)
    assert again.artists("val") == val


def test_split_needs_enough_artists() -> None:
    with pytest.raises(DataError, match="needs at least 3 artists; found 2"):
        split_by_artist(catalogue_frame({"a": 5, "b": 5}), val_fraction=0.2, test_fraction=0.2)
    two = split_by_artist(catalogue_frame({"a": 5, "b": 5}), val_fraction=0.5)
    assert len(two.artists("train")) == 1 and len(two.artists("val")) == 1


def test_balanced_pairs_are_distinct_and_labelled_right() -> None:
    frame = catalogue_frame({"a": 10, "b": 6, "c": 3, "solo": 1})
    pairs = sample_pairs(frame, 60, seed=5)
    assert len(pairs) == 60
    assert pairs["same"].sum() == 30
    assert (pairs["same"] == (pairs["artist1"] == pairs["artist2"])).all()
    assert (pairs["image1"] != pairs["image2"]).all()
    keys = {tuple(sorted(p)) for p in zip(pairs["image1"], pairs["image2"])}
    assert len(keys) == 60
    artist_of = dict(zip(frame["path"], frame["artist"]))
    assert all(artist_of[p] == a for p, a in zip(pairs["image1"], pairs["artist1"]))


def test_pairs_capped_at_what_exists() -> None:
    frame = catalogue_frame({"a": 3, "b": 2})  # 3 + 1 same-artist pairs, 6 different
    pairs = sample_pairs(frame, 40, seed=0)
    assert pairs["same"].sum() == 4
    assert (~pairs["same"]).sum() == 6
    every_same = {tuple(sorted(p)) for p in itertools.combinations([f"a/{i}.jpg" for i in range(3)], 2)}
    got = {
        tuple(sorted(p))
        for p in zip(pairs["image1"], pairs["image2"])
        if p[0].startswith("a/") and p[1].startswith("a/")
    }
    assert got == every_same


def test_reads_submission_and_solution(tmp_path: Path) -> None:
    (tmp_path / "submission_info.csv").write_text("index,image1,image2\n0,1.jpg,2.jpg\n1,1.jpg,3.jpg\n")
    (tmp_path / "solution.csv").write_text("index,sameArtist\n0,1\n1,0\n")
    pairs = read_submission_info(tmp_path / "submission_info.csv")
    assert list(pairs["index"]) == [0, 1] and list(pairs["image2"]) == ["2.jpg", "3.jpg"]
    assert list(read_solution(tmp_path / "solution.csv")["sameArtist"]) == [1, 0]
    # The scorer's spellings of a label are the evaluator's too.
    (tmp_path / "solution.csv").write_text("index,sameArtist\n0,true\n1,False\n")
    assert list(read_solution(tmp_path / "solution.csv")["sameArtist"]) == [1, 0]


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        ("index,image1\n0,a.jpg\n", "missing column(s) image2"),
        ("index,image1,image2\n", "no pairs listed"),
        ("index,image1,image2\n0,a.jpg,b.jpg\n0,a.jpg,c.jpg\n", "row 3 repeats index 0"),
        ("index,image1,image2\nx,a.jpg,b.jpg\n", "row 2 has index='x'; expected an integer"),
        ("index,image1,image2\n0,a.jpg,\n", "row 2 names '', which is empty"),
        # One reader, the scorer's rules: negative indices and names leaving the folder are refused.
        ("index,image1,image2\n-1,a.jpg,b.jpg\n", "row 2 has index=-1; expected an integer from 0"),
        ("index,image1,image2\n0,a.jpg,../b.jpg\n", "row 2 names '../b.jpg', which points outside"),
    ],
)
def test_bad_submission_info(tmp_path: Path, csv_text: str, message: str) -> None:
    path = tmp_path / "submission_info.csv"
    path.write_text(csv_text)
    with pytest.raises(DataError) as caught:
        read_submission_info(path)
    assert message in str(caught.value) and str(path) in str(caught.value)


def test_synth_output_reads_back_with_disjoint_splits(synth_dir: Path) -> None:
    catalogue = read_catalogue(synth_dir)
    assert catalogue.source == "all_data_info.csv"
    assert all((synth_dir / p).is_file() for p in catalogue.paintings["path"])
    train = read_catalogue(synth_dir, subset="train").paintings
    test = read_catalogue(synth_dir, subset="test").paintings
    unseen = set(test["artist"]) - set(train["artist"])
    seen = set(test["artist"]) & set(train["artist"])
    assert unseen and seen  # the test set holds artists seen in training and artists never seen
    split = split_by_artist(filter_artists(train), val_fraction=0.3, seed=0)
    assert split.artists("val") and not (split.artists("val") & split.artists("train"))
    # train_info.csv lists exactly the training images.
    train_info = pd.read_csv(synth_dir / "train_info.csv")
    assert sorted("train/" + train_info["filename"]) == sorted(train["path"])
