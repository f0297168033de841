"""Reference scoring on labelled paintings: hold out queries, keep a fold of artists unseen.

``python -m bench.reference_holdout EMBEDDINGS --data DIR [DIR...] --fold 0/4`` takes the
embeddings of a folder-per-artist tree (``painter-match embed``), keeps the artists of ``--fold`` (the
ones `painter-match train --hold-out-fold` kept out of the model) out of the reference, holds out
a third of every other artist's paintings as queries, fits a reference on the remaining two
thirds (`reference.fit.fit_reference`), and reports the ROC AUC of query pairs (every
same-artist pair and a sample of different-artist ones) overall, for pairs of two seen artists
and of two unseen artists, with the calibrated cosine alone and with the reference. Test
paintings are never in the reference, so nothing is left out as a duplicate of itself.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from painter_match.data.catalogue import artist_key, read_catalogue
from painter_match.data.selection import fold_artists
from painter_match.inference.embeddings import load_embeddings
from painter_match.inference.reference import query_evidence, score_pairs_with_reference
from painter_match.inference.reference.fit import fit_reference
from painter_match.inference.reference.set import build_reference
from painter_match.inference.similarity import pairwise_cosine
from painter_match.metrics import roc_auc


def measure(
    embeddings_file: str,
    data: Sequence[str],
    fold: str = "0/4",
    *,
    query_share: float = 1 / 3,
    negatives: int = 300_000,
    seed: int = 0,
) -> dict[str, Any]:
    """The AUCs with and without the reference (see the module's docstring)."""
    embeddings = load_embeddings(embeddings_file)
    paintings = read_catalogue(list(data) if len(data) > 1 else data[0]).paintings
    unseen_keys = fold_artists(paintings, fold)
    # Folder-per-artist: the first folder of each embedded path is its artist.
    artists = [path.split("/")[0] for path in embeddings.paths]
    keys = np.array([artist_key(a) for a in artists])
    unseen = np.isin(keys, sorted(unseen_keys))
    rng = np.random.default_rng(seed)
    query = unseen.copy()
    for key in sorted(set(keys[~unseen].tolist())):
        rows = rng.permutation(np.flatnonzero(keys == key))
        query[rows[: int(round(len(rows) * query_share))]] = True
    reference_rows = np.flatnonzero(~query)
    labels = {embeddings.paths[r]: artists[r] for r in reference_rows.tolist()}
    reference = fit_reference(build_reference(embeddings, labels, unlabelled="skip", digests=False))
    combiner = reference.combiner
    assert combiner is not None
    rows = np.flatnonzero(query)
    qkeys, qunseen = keys[rows], unseen[rows]
    first, second = np.triu_indices(len(rows), 1)
    same = qkeys[first] == qkeys[second]
    pick = np.flatnonzero(~same)
    pick = np.sort(
        np.concatenate([np.flatnonzero(same), rng.choice(pick, min(negatives, len(pick)), replace=False)])
    )
    first, second, same = first[pick], second[pick], same[pick]
    vectors = embeddings.vectors[rows]
    plain = pairwise_cosine(vectors, first, second)
    evidence = query_evidence(vectors, reference)
    scored = score_pairs_with_reference(first, second, evidence, combiner)
    result: dict[str, Any] = {
        "paintings": len(embeddings),
        "reference_paintings": len(reference),
        "reference_artists": len(reference.artists),
        "queries": len(rows),
        "queries_unseen": int(qunseen.sum()),
        "unseen_artists": len(set(keys[unseen].tolist())),
        "pairs": len(same),
        "same_artist_pairs": int(same.sum()),
        "queries_with_duplicates": evidence.neighbours.queries_with_duplicates,
        "combiner": {"k": combiner.k, "temperature": combiner.temperature, "shrinkage": combiner.shrinkage},
    }
    for name, mask in (
        ("all", np.ones(len(same), bool)),
        ("seen", ~qunseen[first] & ~qunseen[second]),
        ("unseen", qunseen[first] & qunseen[second]),
    ):
        result[f"pairs_{name}"] = int(mask.sum())
        result[f"auc_{name}_cosine"] = round(roc_auc(same[mask], plain[mask]), 4)
        result[f"auc_{name}_reference"] = round(roc_auc(same[mask], scored[mask]), 4)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reference_holdout", description=__doc__)
    parser.add_argument("embeddings", help="embeddings of the data folders' paintings (painter-match embed)")
    parser.add_argument("--data", nargs="+", required=True, help="the data folders (for the artists' folds)")
    parser.add_argument("--fold", default="0/4", help="artists kept unseen (those held out of the model)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    json.dump(measure(args.embeddings, args.data, args.fold, seed=args.seed), sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
