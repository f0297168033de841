"""AUC of a Kaggle submission split by whether the pair's artists have paintings in train/.

Painter by Numbers' test pairs mix artists who also have labelled paintings in ``train/`` (seen)
with artists who have none (unseen); a scorer that uses the labelled paintings (``score
--reference``) helps the first kind only. Given the pairs file, a submission, the solution and
Kaggle's ``all_data_info.csv`` (``artist``, ``in_train``, ``new_filename``), this gives the AUC of
the pairs whose two artists are both seen and of those whose two artists are both unseen.

It reads the four files whole with pandas (a few columns each): meant for the demo's and a
development set's sizes, not for Kaggle's 21.9M pairs on a small machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from painter_match.data.catalogue import artist_key
from painter_match.data.images import normalise_name
from painter_match.errors import DataError
from painter_match.metrics import roc_auc


def seen_unseen_auc(
    pairs_csv: str | Path, submission_csv: str | Path, solution_csv: str | Path, all_data_info: str | Path
) -> dict[str, Any]:
    """AUC of seen-artist and unseen-artist pairs (None where a group lacks one class).

    Returns:
        ``auc_seen``, ``pairs_seen``, ``auc_unseen``, ``pairs_unseen`` and ``artists_from``.

    Raises:
        DataError: naming a file that lacks a column.
    """
    import pandas as pd

    def read(path: str | Path, columns: tuple[str, ...]) -> Any:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame.columns = [str(c).strip() for c in frame.columns]
        lacking = [c for c in columns if c not in frame.columns]
        if lacking:
            raise DataError(f"{path}: lacks the column(s) {', '.join(lacking)}")
        return frame[list(columns)]

    info = read(all_data_info, ("artist", "in_train", "new_filename"))
    artist_of = {normalise_name(n): artist_key(a) for n, a in zip(info["new_filename"], info["artist"])}
    trained = info["in_train"].str.strip().str.lower().isin(("true", "1"))
    seen_artists = {artist_key(a) for a in info["artist"][trained]}
    pairs = read(pairs_csv, ("index", "image1", "image2"))
    scores = read(submission_csv, ("index", "sameArtist"))
    truth = read(solution_csv, ("index", "sameArtist"))
    table = pairs.merge(scores, on="index").merge(truth, on="index", suffixes=("_score", "_truth"))
    labels = table["sameArtist_truth"].astype(float).to_numpy() > 0.5
    values = table["sameArtist_score"].astype(float).to_numpy()

    def seen(column: str) -> np.ndarray:
        artists = [artist_of.get(normalise_name(n)) for n in table[column]]
        return np.array([a in seen_artists if a is not None else np.nan for a in artists], dtype=float)

    first, second = seen("image1"), seen("image2")
    result: dict[str, Any] = {"artists_from": str(all_data_info)}
    for name, mask in (("seen", (first == 1) & (second == 1)), ("unseen", (first == 0) & (second == 0))):
        group = labels[mask]
        result[f"auc_{name}"] = roc_auc(group, values[mask]) if 0 < group.sum() < group.size else None
        result[f"pairs_{name}"] = int(mask.sum())
    return result
