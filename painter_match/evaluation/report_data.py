"""What an evaluation page shows beyond the ROC: AUC per artist, and the most confident mistakes.

`per_artist_auc` scores, for each artist, the pairs that artist is part of (its same-artist pairs
against its pairs with anyone else), so the artists a model confuses stand out; it sorts the pairs
once, not once per artist. `mistake_examples` turns `confident_mistakes`' rows of a set of scored
`Pairs` into the `PairExample`s that `evaluation_report` draws as thumbnail pairs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from painter_match.data.pairs import Pairs
from painter_match.evaluation.html_report import PairExample, confident_mistakes
from painter_match.metrics import roc_auc


def per_artist_auc(
    labels: ArrayLike,
    scores: ArrayLike,
    first_artist: Sequence[str | None],
    second_artist: Sequence[str | None],
) -> dict[str, float | None]:
    """ROC AUC of the pairs each artist is part of.

    Args:
        labels: 1 where the pair shares an artist.
        scores: the model's similarity per pair.
        first_artist, second_artist: the artist of each pair's two paintings (None where unknown;
            such a side counts for nobody).

    Returns:
        ``artist -> AUC``, None for an artist whose pairs are all of one kind, in name order.

    Raises:
        ValueError: the four inputs differ in length.
    """
    y = np.asarray(labels).astype(bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if not (y.size == s.size == len(first_artist) == len(second_artist)):
        raise ValueError(
            f"labels, scores and the two artist lists must be equally long, got {y.size}, {s.size}, "
            f"{len(first_artist)} and {len(second_artist)}"
        )
    codes, names = pd.factorize(pd.Series([*first_artist, *second_artist], dtype=object), sort=True)
    count = y.size
    first_codes, second_codes = codes[:count], codes[count:]
    # A pair of one artist's two paintings counts once for that artist, not twice.
    second_kept = second_codes != first_codes
    owner = np.concatenate([first_codes, second_codes[second_kept]])
    row = np.concatenate([np.arange(count), np.flatnonzero(second_kept)])
    known = owner >= 0
    owner, row = owner[known], row[known]
    order = np.argsort(owner, kind="stable")
    owner, row = owner[order], row[order]
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]]) if owner.size else np.empty(0, int)
    result: dict[str, float | None] = {}
    for start, end in zip(starts, [*starts[1:], owner.size]):
        rows = row[start:end]
        kinds = y[rows]
        result[str(names[owner[start]])] = (
            roc_auc(kinds, s[rows]) if 0 < int(kinds.sum()) < kinds.size else None
        )
    return result


def mistake_examples(
    pairs: Pairs,
    first: np.ndarray,
    second: np.ndarray,
    labels: ArrayLike,
    scores: ArrayLike,
    n: int = 8,
    *,
    threshold: float | None = None,
) -> list[PairExample]:
    """The scored pairs the model got most confidently wrong, ready for `evaluation_report`.

    Args:
        pairs: where the images are (``root``, ``paths``, ``artists``).
        first, second: the scored pairs' indices into ``pairs.paths``.
        labels, scores: each scored pair's truth and similarity.
        n: the most pairs of each kind (`confident_mistakes`).
        threshold: when given, only pairs on the wrong side of it.

    Returns:
        Different-artist pairs, highest score first, then same-artist pairs, lowest score first.
    """
    y = np.asarray(labels).astype(bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    different, same = confident_mistakes(y, s, n, threshold=threshold)
    artists = list(pairs.artists)

    def artist(index: int) -> str | None:
        return artists[index] if artists else None

    examples = []
    for i in [*different.tolist(), *same.tolist()]:
        a, b = int(first[i]), int(second[i])
        examples.append(
            PairExample(
                pairs.root / pairs.paths[a],
                pairs.root / pairs.paths[b],
                bool(y[i]),
                float(s[i]),
                artist(a),
                artist(b),
                pairs.paths[a],
                pairs.paths[b],
            )
        )
    return examples
