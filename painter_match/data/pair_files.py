"""The competition's pair files: ``submission_info.csv`` (index,image1,image2) and ``solution.csv``
(index,sameArtist), read and checked row by row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from painter_match.data.catalogue import _csv_row, _require_non_empty, read_csv_checked
from painter_match.errors import DataError


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
