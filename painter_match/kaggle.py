"""The data layer: which paintings there are, by whom, and how to split and pair them.

Reads the two layouts painter-match accepts and turns either into one table of paintings
(``path`` relative to the data folder, ``artist``, ``in_train``):

* the Kaggle "Painter by Numbers" layout: ``all_data_info.csv`` (every image, with
  ``new_filename``, ``artist`` and ``in_train``) or ``train_info.csv`` (training images only,
  with ``filename`` and ``artist``), beside ``train/`` and ``test/`` image folders;
* folder-per-artist: one sub-folder per artist, the folder name being the artist.

On that table it offers the operations training and evaluation need: artist filtering, a cap
per artist, artist-disjoint splits, balanced pair sampling; and it reads the competition's pair
files (``submission_info.csv``, ``solution.csv``) with checks that name the bad row.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeAlias

import numpy as np
import pandas as pd

from painter_match.errors import DataError
from painter_match.images import find_images, is_image_name, resolve_inside

ALL_DATA_INFO = "all_data_info.csv"
TRAIN_INFO = "train_info.csv"
SUBMISSION_INFO = "submission_info.csv"
SOLUTION = "solution.csv"
FOLDER_PER_ARTIST = "folder-per-artist"

Layout = Literal["kaggle", "folders", "several"]
Subset = Literal["all", "train", "test"]
# One data folder, or several read as one catalogue (`read_catalogue`).
DataDirs: TypeAlias = "str | Path | Sequence[str | Path]"

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


@dataclass(frozen=True)
class Catalogue:
    """The paintings of one data folder.

    Attributes:
        root: the data folder; for several folders, the folder that holds them all.
        layout: ``"kaggle"`` or ``"folders"``; ``"several"`` for several folders read as one.
        source: the file the list came from, or ``"folder-per-artist"``; for several folders,
            each folder's source, joined by ``"; "``.
        paintings: one row per painting: ``path`` (POSIX, relative to root), ``artist``,
            ``in_train`` (bool; always True for folder-per-artist).
        ignored: image files that belong to no artist (directly in root of a folder layout).
    """

    root: Path
    layout: Layout
    source: str
    paintings: pd.DataFrame
    ignored: tuple[str, ...] = field(default=())

    def absolute_paths(self) -> list[Path]:
        """The paintings' files, in table order."""
        return [self.root / p for p in self.paintings["path"]]


def detect_layout(data_dir: str | Path) -> tuple[Layout, str]:
    """Which layout a folder holds, and the file (or folder scheme) that lists its paintings.

    Raises:
        DataError: when the folder is missing or holds neither layout.
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise DataError(f"{root}: no such data folder")
    for name in (ALL_DATA_INFO, TRAIN_INFO):
        if (root / name).is_file():
            return "kaggle", name
    if any(p.is_dir() and not p.name.startswith(".") for p in root.iterdir()):
        return "folders", FOLDER_PER_ARTIST
    raise DataError(
        f"{root}: found neither {ALL_DATA_INFO} / {TRAIN_INFO} (Kaggle layout) nor artist "
        "sub-folders (folder-per-artist layout); see README.md, 'Data layouts'"
    )


def data_folders(data_dir: DataDirs) -> list[Path]:
    """The folders a `DataDirs` value names, in order."""
    if isinstance(data_dir, (str, Path)):
        return [Path(data_dir)]
    return [Path(d) for d in data_dir]


# Letters that Unicode does not decompose into a base letter and an accent.
_UNDECOMPOSED = str.maketrans(
    {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ß": "ss", "æ": "ae", "œ": "oe"}
)


def artist_key(name: str) -> str:
    """The spelling-free identity of an artist's name: ``"Claude Monet"`` and ``claude_monet`` agree.

    Accents, letter case and the separators between words are dropped, so the same painter
    listed by two sources (a Kaggle CSV's "Pierre-Auguste Renoir", a folder named
    ``pierre_auguste_renoir``) counts as one artist when their folders are read together.
    """
    ascii_name = (
        unicodedata.normalize("NFKD", name.translate(_UNDECOMPOSED)).encode("ascii", "ignore").decode()
    )
    return re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_") or name


def read_catalogue(data_dir: DataDirs, *, subset: Subset = "all") -> Catalogue:
    """List the paintings of a data folder in either layout, or of several folders as one.

    Several folders may mix layouts. Their paintings are listed relative to the deepest folder
    holding them all, and an artist whose name appears in two folders (see `artist_key`) is one
    artist, spelled as the first folder spells it.

    Args:
        data_dir: a Kaggle-layout or folder-per-artist folder, or a sequence of them.
        subset: ``"train"`` or ``"test"`` keeps only that part of a Kaggle layout
            (folder-per-artist data counts as training data).

    Raises:
        DataError: a missing folder, an unreadable or empty CSV, missing columns, a bad row,
            duplicate files, no paintings at all, or one folder given twice or inside another.
    """
    folders = data_folders(data_dir)
    if not folders:
        raise DataError("no data folder given")
    if len(folders) > 1:
        return _combine([read_catalogue(folder, subset=subset) for folder in folders])
    root = folders[0]
    layout, source = detect_layout(root)
    ignored: tuple[str, ...] = ()
    if layout == "kaggle":
        paintings = _read_kaggle_listing(root, source)
    else:
        paintings, ignored = _read_artist_folders(root)
    if subset == "train":
        paintings = paintings[paintings["in_train"]]
    elif subset == "test":
        if source == TRAIN_INFO:
            raise DataError(
                f"{root / TRAIN_INFO} lists training images only; the test images and their "
                f"artists are in {ALL_DATA_INFO}"
            )
        paintings = paintings[~paintings["in_train"]]
    if paintings.empty:
        where = root / source if layout == "kaggle" else root
        raise DataError(f"{where}: no paintings listed{'' if subset == 'all' else f' in the {subset} set'}")
    return Catalogue(root, layout, source, paintings.reset_index(drop=True), ignored)


def _combine(catalogues: list[Catalogue]) -> Catalogue:
    roots = [c.root.resolve() for c in catalogues]
    for i, a in enumerate(roots):
        for j, b in enumerate(roots):
            if i != j and (a == b or a in b.parents):
                what = "given twice" if a == b else f"holds {catalogues[j].root}"
                raise DataError(
                    f"{catalogues[i].root}: {what}; give each data folder once, none inside another"
                )
    top = Path(os.path.commonpath(roots))
    spelling: dict[str, str] = {}
    frames, ignored = [], []
    for catalogue, root in zip(catalogues, roots):
        prefix = root.relative_to(top).as_posix()
        frame = catalogue.paintings.copy()
        frame["path"] = [f"{prefix}/{p}" for p in frame["path"]]
        frame["artist"] = [spelling.setdefault(artist_key(a), a) for a in frame["artist"]]
        frames.append(frame)
        ignored += [f"{prefix}/{p}" for p in catalogue.ignored]
    paintings = pd.concat(frames, ignore_index=True)
    source = "; ".join(f"{c.root}: {c.source}" for c in catalogues)
    return Catalogue(top, "several", source, paintings, tuple(ignored))


def read_csv_checked(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    """Read a CSV as text columns, insisting on the columns the caller needs.

    Every value stays a string (``"NA"`` is a title, not a missing value); a stray byte in a
    title is replaced rather than stopping the read, since only names and artists matter here.

    Raises:
        DataError: naming the file for a missing file, an empty file, a malformed line or
            missing columns.
    """
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, encoding="utf-8", encoding_errors="replace"
        )
    except pd.errors.EmptyDataError:
        expected = f"a header with {', '.join(required)}" if required else "a header line"
        raise DataError(f"{path}: the file is empty; expected {expected}") from None
    except pd.errors.ParserError as err:
        raise DataError(f"{path}: not a readable CSV ({_first_line(err)})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    require_columns(frame, path, required)
    return frame


def require_columns(frame: pd.DataFrame, path: Path, required: tuple[str, ...]) -> None:
    """Raise a DataError naming the file, the missing columns and those found."""
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(frame.columns) or 'none'}"
        )


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def _read_kaggle_listing(root: Path, source: str) -> pd.DataFrame:
    csv_path = root / source
    if source == ALL_DATA_INFO:
        frame = read_csv_checked(csv_path, ("new_filename", "artist", "in_train"))
        names = frame["new_filename"]
        in_train = _parse_bool_column(frame["in_train"], csv_path, "in_train")
    else:
        frame = read_csv_checked(csv_path, ())
        # The real train_info.csv says "filename"; accept all_data_info's "new_filename" too.
        name_column = (
            "new_filename"
            if "new_filename" in frame.columns and "filename" not in frame.columns
            else "filename"
        )
        require_columns(frame, csv_path, (name_column, "artist"))
        names = frame[name_column]
        in_train = pd.Series(True, index=frame.index)
    names = names.str.strip()
    artists = frame["artist"].str.strip()
    _require_non_empty(names, csv_path, "file name")
    _require_non_empty(artists, csv_path, "artist")
    duplicated = names[names.duplicated()]
    if not duplicated.empty:
        raise DataError(
            f"{csv_path}: row {_csv_row(duplicated.index[0])} lists {duplicated.iloc[0]!r} a second time; "
            "each image may appear once"
        )
    folders = np.where(in_train.to_numpy(), "train", "test")
    # Kaggle names are bare file names; anything else must still stay inside its image folder.
    suspect = names.str.contains(r"[/\\]", regex=True) | names.isin({".", ".."})
    for row in names.index[suspect]:
        try:
            resolve_inside(root / folders[row], names[row])
        except DataError:
            raise DataError(
                f"{csv_path}: row {_csv_row(row)} names {names[row]!r}, which leaves the image folder; "
                "image names must be files inside train/ or test/"
            ) from None
    paths = [f"{folder}/{name}" for folder, name in zip(folders, names)]
    return pd.DataFrame({"path": paths, "artist": artists.to_numpy(), "in_train": in_train.to_numpy()})


def _csv_row(index: object) -> int:
    """The line number a user sees in an editor: the header is line 1."""
    return int(index) + 2  # type: ignore[call-overload]


def _require_non_empty(values: pd.Series, csv_path: Path, what: str) -> None:
    empty = values[values == ""]
    if not empty.empty:
        raise DataError(f"{csv_path}: row {_csv_row(empty.index[0])} has an empty {what}")


def _parse_bool_column(values: pd.Series, csv_path: Path, column: str) -> pd.Series:
    lowered = values.str.strip().str.lower()
    bad = lowered[~lowered.isin(_TRUE | _FALSE)]
    if not bad.empty:
        raise DataError(
            f"{csv_path}: row {_csv_row(bad.index[0])} has {column}={values[bad.index[0]]!r}; expected True or False"
        )
    return lowered.isin(_TRUE)


def _read_artist_folders(root: Path) -> tuple[pd.DataFrame, tuple[str, ...]]:
    rows: list[tuple[str, str]] = []
    for image in find_images(root):
        rel = image.relative_to(root).as_posix()
        artist, sep, _ = rel.partition("/")
        rows.append((rel, artist if sep else ""))
    ignored = tuple(rel for rel, artist in rows if not artist)
    listed = [(rel, artist) for rel, artist in rows if artist]
    frame = pd.DataFrame(listed, columns=["path", "artist"])
    frame["in_train"] = True
    return frame, ignored


def read_artist_list(path: str | Path) -> set[str]:
    """The artists named in a text file, one per line (``#`` starts a comment), as `artist_key`s.

    Raises:
        DataError: a missing or unreadable file, or one that names no artist.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read the artist list ({err.__class__.__name__}: {err})") from None
    keys = {artist_key(line.split("#", 1)[0].strip()) for line in lines if line.split("#", 1)[0].strip()}
    if not keys:
        raise DataError(f"{path}: names no artist; write one artist per line")
    return keys


# Fixed so that a fold names the same artists in every run, on every machine.
FOLD_SEED = 12345


def parse_fold(text: str) -> tuple[int, int]:
    """``"2/4"`` -> (2, 4): fold 2 of 4, counted from 0.

    Raises:
        ValueError: naming the value and the expected form.
    """
    number, sep, total = text.partition("/")
    if sep and number.strip().isdigit() and total.strip().isdigit():
        k, n = int(number), int(total)
        if n >= 2 and 0 <= k < n:
            return k, n
    raise ValueError(f"fold {text!r}: expected K/N with N >= 2 and K from 0 to N-1, e.g. 0/4")


def fold_artists(paintings: pd.DataFrame, fold: str) -> set[str]:
    """The artists (`artist_key` values) of one of N artist-disjoint folds of ``paintings``.

    Every artist falls in exactly one fold: the artists, in order of their keys, are shuffled
    with a fixed seed and dealt out in turn, so folds differ in size by at most one artist and
    depend only on which artists there are.

    Raises:
        ValueError: a malformed fold (see `parse_fold`).
    """
    k, n = parse_fold(fold)
    keys = sorted({artist_key(a) for a in paintings["artist"]})
    order = np.random.default_rng(FOLD_SEED).permutation(len(keys))
    return {keys[i] for position, i in enumerate(order) if position % n == k}


def select_artists(paintings: pd.DataFrame, artists: set[str], *, keep: bool) -> pd.DataFrame:
    """The paintings of the given artists (``keep``) or of every other artist (``keep=False``).

    Args:
        artists: `artist_key` values, as `read_artist_list` gives them.
    """
    listed = paintings["artist"].map(artist_key).isin(artists)
    return paintings[listed if keep else ~listed].reset_index(drop=True)


def filter_artists(paintings: pd.DataFrame, min_paintings: int = 2) -> pd.DataFrame:
    """Keep the artists with at least ``min_paintings`` paintings (a same-artist pair needs two)."""
    if min_paintings < 1:
        raise ValueError(f"min_paintings must be >= 1, got {min_paintings}")
    counts = paintings.groupby("artist")["path"].transform("size")
    return paintings[counts >= min_paintings].reset_index(drop=True)


def cap_per_artist(paintings: pd.DataFrame, max_per_artist: int | None, *, seed: int = 0) -> pd.DataFrame:
    """Keep at most ``max_per_artist`` paintings of each artist, chosen at random but reproducibly.

    A cap stops one prolific painter from dominating the pairs; table order is kept.
    """
    if max_per_artist is None:
        return paintings
    if max_per_artist < 1:
        raise ValueError(f"max_per_artist must be >= 1, got {max_per_artist}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(paintings))
    shuffled = paintings.iloc[order]
    kept = shuffled[shuffled.groupby("artist").cumcount() < max_per_artist]
    return paintings.loc[sorted(kept.index)].reset_index(drop=True)


@dataclass(frozen=True)
class Split:
    """Paintings divided so that no artist appears in two parts."""

    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame

    def artists(self, part: str) -> set[str]:
        return set(getattr(self, part)["artist"])


def split_by_artist(
    paintings: pd.DataFrame, *, val_fraction: float = 0.15, test_fraction: float = 0.0, seed: int = 0
) -> Split:
    """Divide the paintings into train / validation / test with disjoint artists.

    Artists are shuffled (reproducibly for a seed) and dealt to validation, then test, until
    each holds about its fraction of the paintings; the rest train. A non-zero fraction always
    gets at least one artist.

    Raises:
        DataError: when there are too few artists for the parts asked for.
    """
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {value}")
    if val_fraction + test_fraction >= 1.0:
        raise ValueError("val_fraction + test_fraction must leave paintings to train on")
    counts = paintings.groupby("artist").size().sort_index()
    needed = 1 + (val_fraction > 0) + (test_fraction > 0)
    if len(counts) < needed:
        raise DataError(
            f"an artist-disjoint split into {needed} parts needs at least {needed} artists; found {len(counts)}"
        )
    rng = np.random.default_rng(seed)
    artists = list(counts.index[rng.permutation(len(counts))])
    total = int(counts.sum())
    parts: dict[str, list[str]] = {"val": [], "test": []}
    for part, fraction in (("val", val_fraction), ("test", test_fraction)):
        target = fraction * total
        taken = 0
        # Leave at least one artist for each part still to be filled and for training.
        while fraction > 0 and len(artists) > 1 + (part == "val" and test_fraction > 0):
            if parts[part] and taken >= target:
                break
            artist = artists.pop()
            parts[part].append(artist)
            taken += int(counts[artist])
    in_val = paintings["artist"].isin(parts["val"])
    in_test = paintings["artist"].isin(parts["test"])
    return Split(
        train=paintings[~in_val & ~in_test].reset_index(drop=True),
        val=paintings[in_val].reset_index(drop=True),
        test=paintings[in_test].reset_index(drop=True),
    )


def sample_pairs(
    paintings: pd.DataFrame, n_pairs: int, *, same_fraction: float = 0.5, seed: int = 0
) -> pd.DataFrame:
    """Draw distinct unordered pairs, ``same_fraction`` of them by one artist.

    Artists are drawn uniformly (not paintings), so prolific painters do not crowd out the rest.
    When fewer distinct pairs of a kind exist than asked for, all of them are returned.

    Returns:
        Columns ``image1``, ``image2`` (paths), ``artist1``, ``artist2``, ``same`` (bool), shuffled.
    """
    if n_pairs < 0:
        raise ValueError(f"n_pairs must be >= 0, got {n_pairs}")
    if not 0.0 <= same_fraction <= 1.0:
        raise ValueError(f"same_fraction must be in [0, 1], got {same_fraction}")
    rng = np.random.default_rng(seed)
    paths = paintings["path"].to_numpy()
    codes, artist_names = pd.factorize(paintings["artist"], sort=True)
    members = [np.flatnonzero(codes == a) for a in range(len(artist_names))]
    n_same = int(round(n_pairs * same_fraction))
    same = _sample_same(members, n_same, rng)
    different = _sample_different(members, codes, n_pairs - n_same, rng)
    pairs = np.concatenate([same, different]).reshape(-1, 2)
    pairs = pairs[rng.permutation(len(pairs))]
    first, second = pairs[:, 0], pairs[:, 1]
    return pd.DataFrame(
        {
            "image1": paths[first],
            "image2": paths[second],
            "artist1": np.asarray(artist_names)[codes[first]],
            "artist2": np.asarray(artist_names)[codes[second]],
            "same": codes[first] == codes[second],
        }
    )


def trainable_paintings(
    paintings: pd.DataFrame, *, min_paintings: int, max_per_artist: int | None, seed: int
) -> pd.DataFrame:
    """The paintings a training run uses: artists with ``min_paintings`` or more, capped per artist.

    The trainer and export's checks both call this, so they see the same paintings.
    """
    return cap_per_artist(filter_artists(paintings, min_paintings), max_per_artist, seed=seed)


def files_on_disk(root: Path, paths: Iterable[str]) -> set[str]:
    """Which of the folders that ``paths`` point into hold image files: root-relative POSIX paths.

    One directory listing per folder instead of one stat per row: the real train_info.csv has
    79,433 rows, and often most of them are not downloaded.
    """
    found: set[str] = set()
    folders = {p.rsplit("/", 1)[0] if "/" in p else "" for p in paths}
    for folder in sorted(folders):
        directory = root / folder
        if not directory.is_dir():
            continue
        with os.scandir(directory) as entries:
            for entry in entries:
                if is_image_name(entry.name) and entry.is_file():
                    found.add(f"{folder}/{entry.name}" if folder else entry.name)
    return found


def run_paintings(
    data_dir: DataDirs,
    *,
    exclude_artists: str | Path | None,
    hold_out_fold: str | None = None,
    min_paintings: int,
    max_per_artist: int | None,
    seed: int,
) -> tuple[Catalogue, pd.DataFrame, int]:
    """The training catalogue of a run, the paintings it trains and validates on, and how many
    listed paintings were left out because their files are missing.

    The artists named in ``exclude_artists`` (a file) and those of ``hold_out_fold`` (``"K/N"``,
    see `fold_artists`) are left out altogether.

    The trainer and export's checks both call this, so they see the same paintings.
    """
    catalogue = read_catalogue(data_dir, subset="train")
    listed = catalogue.paintings
    if exclude_artists:
        listed = select_artists(listed, read_artist_list(exclude_artists), keep=False)
    if hold_out_fold:
        listed = select_artists(listed, fold_artists(catalogue.paintings, hold_out_fold), keep=False)
    # A Kaggle listing often names files that were never downloaded: find out now, in one
    # listing per folder, rather than when a missing file is first sampled.
    present = listed["path"].isin(files_on_disk(catalogue.root, listed["path"]))
    if not present.any():
        raise DataError(
            f"{catalogue.root}: none of the {len(listed):,} listed paintings is on disk; check the folder "
            "with `painter-match scan` (images belong in train/ and test/ for the Kaggle layout)"
        )
    paintings = trainable_paintings(
        listed[present], min_paintings=min_paintings, max_per_artist=max_per_artist, seed=seed
    )
    return catalogue, paintings, int((~present).sum())


def pair_positions(paintings: pd.DataFrame, n_pairs: int, *, seed: int) -> pd.DataFrame:
    """`sample_pairs` as row positions in ``paintings``: columns ``i``, ``j`` (int) and ``same``."""
    pairs = sample_pairs(paintings, n_pairs, seed=seed)
    position = {p: i for i, p in enumerate(paintings["path"])}
    return pd.DataFrame(
        {"i": pairs["image1"].map(position), "j": pairs["image2"].map(position), "same": pairs["same"]}
    )


# Enumerating every pair is exact and cheap up to this many; beyond it, sample and dedupe.
_ENUMERATE_LIMIT = 2_000_000


def _sample_same(members: list[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    eligible = [m for m in members if len(m) >= 2]
    if n == 0 or not eligible:
        return np.empty((0, 2), dtype=np.int64)
    available = sum(len(m) * (len(m) - 1) // 2 for m in eligible)
    n = min(n, available)
    if available <= 4 * n and available <= _ENUMERATE_LIMIT:
        every = np.concatenate([_all_pairs(m) for m in eligible])
        return every[rng.permutation(len(every))[:n]]
    chosen: dict[tuple[int, int], None] = {}
    sizes = np.array([len(m) for m in eligible])
    while len(chosen) < n:
        batch = 2 * (n - len(chosen)) + 16
        which = rng.integers(0, len(eligible), batch)
        i = rng.integers(0, sizes[which])
        j = rng.integers(0, sizes[which] - 1)
        j = j + (j >= i)  # a second, different painting of the same artist
        for a, ii, jj in zip(which, i, j):
            x, y = int(eligible[a][ii]), int(eligible[a][jj])
            chosen[(min(x, y), max(x, y))] = None
            if len(chosen) == n:
                break
    return np.array(list(chosen), dtype=np.int64)


def _sample_different(
    members: list[np.ndarray], codes: np.ndarray, n: int, rng: np.random.Generator
) -> np.ndarray:
    if n == 0 or len(members) < 2:
        return np.empty((0, 2), dtype=np.int64)
    total = len(codes)
    same_count = sum(len(m) * (len(m) - 1) // 2 for m in members)
    available = total * (total - 1) // 2 - same_count
    n = min(n, available)
    if available <= 4 * n and available <= _ENUMERATE_LIMIT:
        every = _all_pairs(np.arange(total))
        every = every[codes[every[:, 0]] != codes[every[:, 1]]]
        return every[rng.permutation(len(every))[:n]]
    chosen: dict[tuple[int, int], None] = {}
    while len(chosen) < n:
        batch = 2 * (n - len(chosen)) + 16
        a = rng.integers(0, len(members), batch)
        b = rng.integers(0, len(members) - 1, batch)
        b = b + (b >= a)  # a second, different artist
        for artist_a, artist_b in zip(a, b):
            x = int(members[artist_a][rng.integers(len(members[artist_a]))])
            y = int(members[artist_b][rng.integers(len(members[artist_b]))])
            chosen[(min(x, y), max(x, y))] = None
            if len(chosen) == n:
                break
    return np.array(list(chosen), dtype=np.int64)


def _all_pairs(indices: np.ndarray) -> np.ndarray:
    i, j = np.triu_indices(len(indices), k=1)
    return np.stack([indices[i], indices[j]], axis=1)


def read_submission_info(path: str | Path) -> pd.DataFrame:
    """Read a Kaggle pairs file (``index,image1,image2``), checking it row by row.

    Returns:
        Columns ``index`` (int64), ``image1``, ``image2``, in file order.

    Raises:
        DataError: naming the file and row for missing columns, an empty file, a non-integer
            or duplicate index, or an empty image name.
    """
    csv_path = Path(path)
    frame = read_csv_checked(csv_path, ("index", "image1", "image2"))
    if frame.empty:
        raise DataError(f"{csv_path}: no pairs listed")
    index = _parse_index(frame["index"], csv_path)
    for column in ("image1", "image2"):
        _require_non_empty(frame[column].str.strip(), csv_path, column)
    return pd.DataFrame(
        {"index": index, "image1": frame["image1"].str.strip(), "image2": frame["image2"].str.strip()}
    )


def read_solution(path: str | Path) -> pd.DataFrame:
    """Read ground truth (``index,sameArtist`` with 0/1 values).

    Raises:
        DataError: naming the file and row for a missing column, a bad or duplicate index, or a
            label other than 0 or 1.
    """
    csv_path = Path(path)
    frame = read_csv_checked(csv_path, ("index", "sameArtist"))
    if frame.empty:
        raise DataError(f"{csv_path}: no rows")
    index = _parse_index(frame["index"], csv_path)
    labels = frame["sameArtist"].str.strip()
    bad = labels[~labels.isin({"0", "1", "0.0", "1.0", "True", "False"})]
    if not bad.empty:
        raise DataError(
            f"{csv_path}: row {_csv_row(bad.index[0])} has sameArtist={bad.iloc[0]!r}; expected 0 or 1"
        )
    same = labels.isin({"1", "1.0", "True"})
    return pd.DataFrame({"index": index, "sameArtist": same.astype(np.int8)})


def _parse_index(values: pd.Series, csv_path: Path) -> np.ndarray:
    numeric = pd.to_numeric(values.str.strip(), errors="coerce")
    bad = numeric[numeric.isna() | (numeric != numeric.round())]
    if not bad.empty:
        row = bad.index[0]
        raise DataError(f"{csv_path}: row {_csv_row(row)} has index={values[row]!r}; expected an integer")
    index = numeric.to_numpy(dtype=np.int64)
    duplicated = pd.Series(index).duplicated()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated.to_numpy())[0])
        raise DataError(
            f"{csv_path}: row {_csv_row(row)} repeats index {index[row]}; each index may appear once"
        )
    return index
