"""Reading the catalogue: which paintings a data folder holds, and by whom.

Reads the two layouts painter-match accepts and turns either into one table of paintings
(``path`` relative to the data folder, ``artist``, ``in_train``):

* the Kaggle "Painter by Numbers" layout: ``all_data_info.csv`` (every image, with
  ``new_filename``, ``artist`` and ``in_train``) or ``train_info.csv`` (training images only,
  with ``filename`` and ``artist``), beside ``train/`` and ``test/`` image folders;
* folder-per-artist: one sub-folder per artist, the folder name being the artist.

Several folders read together are one catalogue, an artist being identified across them by
`artist_key`. Filtering and splitting the table is `painter_match.data.selection`'s job,
sampling pairs from it `painter_match.data.pairs`'s, and the competition's pair files are read
by `painter_match.data.pair_files`.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeAlias

import numpy as np
import pandas as pd

from painter_match.data.images import find_images, is_image_name, resolve_inside
from painter_match.errors import DataError

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
        "sub-folders (folder-per-artist layout); see docs/model-contract.md, 'Data layouts'"
    )


def data_folders(data_dir: DataDirs) -> list[Path]:
    """The folders a `DataDirs` value names, in order."""
    if isinstance(data_dir, (str, Path)):
        return [Path(data_dir)]
    return [Path(d) for d in data_dir]


def catalogue_root(data_dir: DataDirs) -> Path:
    """The ``root`` `read_catalogue` gives: the folder itself, or for several the deepest folder
    holding them all (paths in the catalogue are relative to it)."""
    folders = data_folders(data_dir)
    if len(folders) == 1:
        return folders[0]
    return Path(os.path.commonpath([folder.resolve() for folder in folders]))


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


def artist_digest(name: str) -> str:
    """A short digest of an artist's identity (`artist_key`): what a model records of the artists it
    was trained on, so that evaluation can tell seen artists from unseen without the names."""
    return hashlib.sha256(artist_key(name).encode("utf-8")).hexdigest()[:16]


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
    top = catalogue_root([c.root for c in catalogues])
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
