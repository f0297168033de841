"""Fit a reference's projection and pair model on its own labels, never on the test set's.

The pair model (`painter_match.inference.reference.set.Combiner`) needs pairs whose answer is
known and whose paintings are scored as test paintings will be: against a reference that does
not contain them. `split_for_fit` makes those from the reference's labels: some whole artists are
held out (they play the test artists the reference has never seen) and a share of every other
artist's paintings is held out as queries (they play test paintings of known artists); the rest
is the reference of the fit. `fit_combiner` searches a few settings (the shrinkage of the
`fit_projection` whitening, neighbours, temperature, where the unknown stands), fits the logistic
model of each by `fit_logistic` (plain numpy IRLS) on one half of the query artists and ranks it
on the other half, and keeps the best; it also sets the near-duplicate threshold from the
held-out paintings' nearest distinct neighbours. `fit_reference` stores the result in the
reference, so scoring is deterministic and needs no labels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from painter_match.data.catalogue import artist_key
from painter_match.inference.reference.scoring import artist_posterior, pair_features
from painter_match.inference.reference.search import Neighbours, neighbours
from painter_match.inference.reference.set import (
    DEFAULT_KEEP,
    FEATURES,
    NEAR_DUPLICATE,
    NEAR_DUPLICATE_QUANTILE,
    Combiner,
    Projection,
    Reference,
)
from painter_match.inference.similarity import pairwise_cosine
from painter_match.metrics import roc_auc


def fit_logistic(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    l2: float = 1e-3,
    iterations: int = 100,
) -> np.ndarray:
    """Weighted logistic regression by Newton's method (IRLS, steps halved when they overshoot)
    with a small ridge penalty.

    The columns are standardised inside (so the penalty treats them alike and the Newton steps
    stay well conditioned); the coefficients returned apply to the features as given. A column
    that is constant everywhere is the intercept and is not penalised.

    Args:
        features: ``[n, F]`` float features (include a column of ones for an intercept).
        labels: ``[n]`` 0/1.
        weights: ``[n]`` non-negative pair weights (e.g. inverse sampling rates), or None.
        l2: ridge penalty on the standardised coefficients, relative to the total weight.
        iterations: Newton steps at most.

    Returns:
        float64 ``[F]`` coefficients: ``P(y=1) = sigmoid(features @ coefficients)``.

    Raises:
        ValueError: wrong shapes, negative weights, or only one class.
    """
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"features must be [n, F] and labels [n], got {x.shape} and {y.shape}")
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != y.shape or (w < 0).any():
        raise ValueError(f"weights must be [{len(y)}] and non-negative, got shape {w.shape}")
    if not ((y > 0.5) & (w > 0)).any() or not ((y < 0.5) & (w > 0)).any():
        raise ValueError("a logistic fit needs both same-artist and different-artist pairs")
    w = w / w.mean()
    # Standardise the columns that vary; with an intercept column they are centred too, and the
    # shift moves into the intercept when mapping back. Constant columns stay and are unpenalised.
    constant = np.ptp(x, axis=0) == 0
    intercepts = np.flatnonzero(constant & (x[0] != 0))
    mean = np.average(x, axis=0, weights=w) if len(intercepts) else np.zeros(x.shape[1])
    mean[constant] = 0.0
    scale = np.sqrt(np.average((x - mean) ** 2, axis=0, weights=w))
    scale[constant | (scale < 1e-12)] = 1.0
    z = (x - mean) / scale
    penalty = np.where(constant, 0.0, l2 * len(y))

    def objective(b: np.ndarray) -> float:  # the penalised negative log-likelihood
        margin = z @ b
        return float((w * (np.logaddexp(0.0, margin) - y * margin)).sum() + 0.5 * (penalty * b * b).sum())

    beta = np.zeros(x.shape[1])
    current = objective(beta)
    for _ in range(iterations):
        p = 0.5 * (1.0 + np.tanh(0.5 * (z @ beta)))
        gradient = z.T @ (w * (p - y)) + penalty * beta
        hessian = (z * (w * p * (1 - p))[:, None]).T @ z + np.diag(penalty) + 1e-9 * np.eye(len(beta))
        step = np.linalg.solve(hessian, gradient)
        # Halve a Newton step that would raise the objective (it can overshoot when the classes
        # are nearly separable); the objective is convex, so a short enough step always helps.
        size = 1.0
        while True:
            candidate = beta - size * step
            value = objective(candidate)
            if value <= current or size < 1e-4:
                break
            size /= 2
        beta, current = candidate, value
        if np.abs(size * step).max() < 1e-7:
            break
    coefficients = beta / scale
    if len(intercepts):
        first = intercepts[0]
        coefficients[first] -= float((mean / scale * beta).sum()) / x[0, first]
    return coefficients


@dataclass(frozen=True)
class FitSplit:
    """Which labelled paintings play reference, seen-artist queries and unseen-artist queries.

    Attributes:
        reference_rows: rows of the reference of the fit.
        query_rows: rows scored as queries (seen first, then unseen).
        unseen_artists: artist ids held out whole.
    """

    reference_rows: np.ndarray
    query_rows: np.ndarray
    unseen_artists: np.ndarray


def split_for_fit(
    artist_ids: np.ndarray,
    *,
    unseen_fraction: float = 0.25,
    query_fraction: float = 1 / 3,
    unseen: Sequence[int] | None = None,
    seed: int = 0,
) -> FitSplit:
    """Hold out whole artists and a share of every other artist's paintings.

    Artists with fewer than three paintings lend none as queries of a known artist (a pair
    needs two, and the reference at least one), but their paintings stay in the reference.

    Args:
        artist_ids: ``[R]`` artist of each labelled painting.
        unseen_fraction: share of the artists (with two or more paintings) held out whole.
        query_fraction: share of each other artist's paintings held out as queries.
        unseen: the artist ids to hold out whole instead of a random ``unseen_fraction``.
        seed: for the random choices.

    Raises:
        ValueError: fractions outside (0, 1), or too few artists to hold any out.
    """
    if not 0 < unseen_fraction < 1 or not 0 < query_fraction < 1:
        raise ValueError(
            f"unseen_fraction and query_fraction must lie in (0, 1), got {unseen_fraction}, {query_fraction}"
        )
    ids = np.asarray(artist_ids)
    rng = np.random.default_rng(seed)
    artists, counts = np.unique(ids, return_counts=True)
    several = artists[counts >= 2]
    if unseen is not None:
        held = np.unique(np.asarray(unseen, dtype=ids.dtype))
        if not len(held) or len(held) >= len(artists) or not np.isin(held, artists).all():
            raise ValueError(
                f"unseen must name some, not all, of the {len(artists)} artists, got {len(held)}"
            )
    else:
        n_unseen = int(round(unseen_fraction * len(several)))
        if n_unseen < 1 or n_unseen >= len(several):
            raise ValueError(
                f"{len(several)} artists with two or more paintings: too few to hold {unseen_fraction:.0%} out whole"
            )
        held = np.sort(rng.choice(several, n_unseen, replace=False))
    held_set = set(held.tolist())
    reference_rows: list[np.ndarray] = []
    seen_queries: list[np.ndarray] = []
    unseen_queries: list[np.ndarray] = []
    for artist in artists.tolist():
        rows = rng.permutation(np.flatnonzero(ids == artist))
        if artist in held_set:
            unseen_queries.append(rows)
            continue
        n_query = int(round(query_fraction * len(rows))) if len(rows) >= 3 else 0
        seen_queries.append(rows[:n_query])
        reference_rows.append(rows[n_query:])
    return FitSplit(
        reference_rows=np.sort(np.concatenate(reference_rows)),
        query_rows=np.concatenate(seen_queries + unseen_queries),
        unseen_artists=held,
    )


def _pairs(labels: np.ndarray, max_pairs: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Pairs of queries (i < j) with labels and weights that stand for all of them.

    All pairs when there are at most ``max_pairs``; otherwise every same-artist pair (or half the
    budget of them) and random different-artist pairs, weighted by their inverse sampling rate.
    """
    n = len(labels)
    total = n * (n - 1) // 2
    if total <= max_pairs:
        first, second = np.triu_indices(n, 1)
        return first, second, labels[first] == labels[second], np.ones(len(first))
    order = np.argsort(labels, kind="stable")
    starts = np.flatnonzero(np.r_[True, labels[order][1:] != labels[order][:-1]])
    stops = np.r_[starts[1:], n]
    same_first: list[np.ndarray] = []
    same_second: list[np.ndarray] = []
    for start, stop in zip(starts.tolist(), stops.tolist()):
        i, j = np.triu_indices(stop - start, 1)
        same_first.append(order[start + i])
        same_second.append(order[start + j])
    pos_first, pos_second = np.concatenate(same_first), np.concatenate(same_second)
    n_pos = len(pos_first)
    keep_pos = min(n_pos, max_pairs // 2)
    picked = rng.choice(n_pos, keep_pos, replace=False) if keep_pos < n_pos else np.arange(n_pos)
    n_neg = total - n_pos
    draws = 2 * (max_pairs - keep_pos)
    a = rng.integers(0, n, draws)
    b = rng.integers(0, n, draws)
    different = labels[a] != labels[b]
    a, b = a[different][: max_pairs - keep_pos], b[different][: max_pairs - keep_pos]
    first = np.r_[pos_first[picked], a]
    second = np.r_[pos_second[picked], b]
    same = np.r_[np.ones(keep_pos, dtype=bool), np.zeros(len(a), dtype=bool)]
    weight = np.r_[np.full(keep_pos, n_pos / max(keep_pos, 1)), np.full(len(a), n_neg / max(len(a), 1))]
    return first, second, same, weight


def fit_projection(vectors: np.ndarray, artist_ids: np.ndarray, shrinkage: float) -> Projection:
    """Whiten the spread of paintings around their artist's mean (a shrunk within-artist scatter).

    Directions in which one artist's paintings vary a lot count less, directions in which they
    agree count more, so paintings of one artist come closer together; on `make demo`'s model it
    lifts the plain cosine's test AUC from 0.844 to 0.890 before any posterior. ``shrinkage``
    (a share of the largest eigenvalue added to every one) keeps rare directions from being
    blown up by noise.

    Args:
        vectors: float ``[R, D]`` labelled embeddings.
        artist_ids: ``[R]`` their artists.
        shrinkage: > 0.

    Raises:
        ValueError: wrong shapes, a shrinkage that is not positive, or no artist with two paintings.
    """
    x = np.asarray(vectors, dtype=np.float64)
    ids = np.asarray(artist_ids)
    if x.ndim != 2 or ids.shape != (x.shape[0],):
        raise ValueError(f"vectors must be [R, D] and artist_ids [R], got {x.shape} and {ids.shape}")
    if not shrinkage > 0:
        raise ValueError(f"shrinkage must be positive, got {shrinkage}")
    _, inverse, counts = np.unique(ids, return_inverse=True, return_counts=True)
    means = np.zeros((len(counts), x.shape[1]))
    np.add.at(means, inverse, x)
    means /= counts[:, None]
    within = x - means[inverse]
    scatter = within.T @ within / len(x)
    values, vectors_ = np.linalg.eigh(scatter)
    values = np.clip(values, 0.0, None)
    if values.max() <= 0:
        raise ValueError("a projection needs artists with two or more paintings")
    matrix = vectors_ / np.sqrt(values + shrinkage * values.max())
    return Projection(mean=x.mean(axis=0).astype(np.float32), matrix=matrix.astype(np.float32))


def near_duplicate_threshold(nearest: np.ndarray) -> float:
    """The similarity from which a reference painting counts as the query itself.

    At least `NEAR_DUPLICATE`, and at least the `NEAR_DUPLICATE_QUANTILE` of ``nearest`` (held-out
    paintings' similarity to their nearest distinct reference painting), capped below 1.
    """
    finite = np.asarray(nearest, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    level = float(np.quantile(finite, NEAR_DUPLICATE_QUANTILE)) if len(finite) else NEAR_DUPLICATE
    return min(max(NEAR_DUPLICATE, level), 0.99999)


def _without_near_duplicates(found: Neighbours, threshold: float) -> Neighbours:
    """``found`` less the neighbours at or above ``threshold`` (the rest moves up; -1/-inf pad)."""
    drop = found.similarities >= threshold
    sims = np.where(drop, -np.inf, found.similarities).astype(np.float32)
    index = np.where(drop, -1, found.indices)
    order = np.argsort(-sims, axis=1, kind="stable")
    return Neighbours(
        similarities=np.take_along_axis(sims, order, axis=1),
        indices=np.take_along_axis(index, order, axis=1),
        same_content=found.same_content,
        near_duplicates=found.near_duplicates + drop.sum(axis=1).astype(np.int32),
    )


def _artist_folds(labels: np.ndarray, unseen: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """0 or 1 per query: alternate artists, seen and unseen ones each split in two."""
    fold = np.zeros(len(labels), dtype=np.int8)
    for group in (np.unique(labels[~unseen]), np.unique(labels[unseen])):
        ones = rng.permutation(group)[1::2]
        fold[np.isin(labels, ones)] = 1
    return fold


def _cross_validated_auc(
    features: np.ndarray, same: np.ndarray, weight: np.ndarray, folds: list[np.ndarray], l2: float
) -> float:
    """Mean AUC of each fold's pairs under the model fitted on the other fold's pairs."""
    aucs = []
    for train, test in ((folds[0], folds[1]), (folds[1], folds[0])):
        if same[train].all() or not same[train].any() or same[test].all() or not same[test].any():
            continue
        coefficients = fit_logistic(features[train], same[train], weights=weight[train], l2=l2)
        aucs.append(roc_auc(same[test], features[test].astype(np.float64) @ coefficients))
    if not aucs:
        raise ValueError("too few same-artist pairs among the held-out paintings to rank settings")
    return float(np.mean(aucs))


_GRID_PAIRS = 100_000


@dataclass
class _Candidate:
    auc: float
    shrinkage: float | None
    k: int
    temperature: float
    level: float
    found: Neighbours
    searched: Reference
    cosine: np.ndarray
    threshold: float


def fit_combiner(
    reference: Reference,
    *,
    shrinkages: Sequence[float | None] = (None, 0.003, 0.01, 0.03),
    ks: Sequence[int] = (10, 20, 40),
    temperatures: Sequence[float] = (0.02, 0.05, 0.1, 0.2),
    unknown_quantiles: Sequence[float] = (0.2, 0.5, 0.8),
    keep: int = DEFAULT_KEEP,
    unseen_fraction: float = 0.25,
    query_fraction: float = 1 / 3,
    unseen_artists: Sequence[str] | None = None,
    max_pairs: int = 400_000,
    l2: float = 1e-3,
    seed: int = 0,
) -> Combiner:
    """Fit the pair model on held-out paintings of the reference's own artists.

    For each setting, the queries of `split_for_fit` are searched against the rest (projected
    with that shrinkage), their posteriors computed, and a logistic model on `FEATURES` fitted to
    the pairs of one half of the query artists and ranked (AUC) on the other half, both ways; the
    setting ranked best is refitted on all pairs. The unknown similarity is searched among
    quantiles of the queries' best-neighbour similarities, so the grid follows the model's scale.

    Args:
        reference: labelled paintings (a combiner or projection it has is ignored).
        shrinkages: of `fit_projection`; None searches the embeddings as they are.
        ks, temperatures, unknown_quantiles: the posterior settings searched.
        keep: artists kept per posterior.
        unseen_fraction, query_fraction: see `split_for_fit`.
        unseen_artists: names of the artists to hold out whole instead of a random share: the
            trainer's validation artists are the natural choice, since the encoder never saw
            their paintings, as it will not have seen the test set's new artists.
        max_pairs: pairs of queries fitted on at most (sampled, weighted, beyond it).
        l2: ridge penalty of `fit_logistic`.
        seed: for the split, the folds and the pair sample.

    Returns:
        The combiner; its ``report`` holds the chosen setting's cross-validated AUC and, on all
        the fit's pairs, AUCs overall, for seen-artist and for unseen-artist pairs, with the
        reference and with the embeddings' plain cosine.

    Raises:
        ValueError: too few artists or paintings to split, or too few same-artist pairs.
    """
    held: list[int] | None = None
    if unseen_artists is not None:
        id_of = {artist_key(name): i for i, name in enumerate(reference.artists)}
        strangers = [name for name in unseen_artists if artist_key(name) not in id_of]
        if strangers:
            raise ValueError(
                f"unseen_artists names {len(strangers)} artists not in the reference (first: {strangers[0]!r})"
            )
        held = [id_of[artist_key(name)] for name in unseen_artists]
    split = split_for_fit(
        reference.artist_ids,
        unseen_fraction=unseen_fraction,
        query_fraction=query_fraction,
        unseen=held,
        seed=seed,
    )
    base = reference.subset(split.reference_rows)
    queries = reference.vectors[split.query_rows]
    labels = reference.artist_ids[split.query_rows]
    digests = [reference.digests[r] for r in split.query_rows.tolist()]
    rng = np.random.default_rng(seed + 1)
    first, second, same, weight = _pairs(labels, max_pairs, rng)
    unseen = np.isin(labels, split.unseen_artists)
    fold = _artist_folds(labels, unseen, rng)
    # The settings are ranked on at most `_GRID_PAIRS` of the pairs (features and fits cost time in
    # proportion); the chosen one is then fitted on all of them.
    grid = np.sort(rng.permutation(len(same))[:_GRID_PAIRS])
    folds = [(fold[first[grid]] == f) & (fold[second[grid]] == f) for f in (0, 1)]
    best: _Candidate | None = None
    for shrinkage in shrinkages:
        projection = None if shrinkage is None else fit_projection(base.vectors, base.artist_ids, shrinkage)
        searched = replace(base, projection=projection)
        found = neighbours(queries, searched, max(ks), query_digests=digests, near_duplicate=math.inf)
        threshold = near_duplicate_threshold(found.similarities[:, 0])
        found = _without_near_duplicates(found, threshold)
        projected = searched.project(queries)
        cosine = pairwise_cosine(projected, first, second)
        nearest = found.similarities[:, 0][np.isfinite(found.similarities[:, 0])]
        levels = np.unique(np.round(np.quantile(nearest, unknown_quantiles), 4)) if len(nearest) else [0.5]
        for k in ks:
            for temperature in temperatures:
                for level in np.asarray(levels).tolist():
                    posterior = artist_posterior(
                        found.similarities[:, :k],
                        found.indices[:, :k],
                        searched,
                        temperature=temperature,
                        unknown_similarity=level,
                        keep=keep,
                    )
                    features = pair_features(cosine[grid], posterior, first[grid], second[grid])
                    auc = _cross_validated_auc(features, same[grid], weight[grid], folds, l2)
                    if best is None or auc > best.auc:
                        best = _Candidate(
                            auc, shrinkage, k, temperature, level, found, searched, cosine, threshold
                        )
    assert best is not None  # the grids are not empty
    posterior = artist_posterior(
        best.found.similarities[:, : best.k],
        best.found.indices[:, : best.k],
        best.searched,
        temperature=best.temperature,
        unknown_similarity=best.level,
        keep=keep,
    )
    features = pair_features(best.cosine, posterior, first, second)
    coefficients = fit_logistic(features, same, weights=weight, l2=l2)
    score = features.astype(np.float64) @ coefficients
    plain = pairwise_cosine(queries, first, second)
    report = {
        "auc_cross_validated": best.auc,
        "auc": roc_auc(same, score),
        "auc_cosine": roc_auc(same, plain),
        "queries": float(len(labels)),
        "queries_with_duplicates": float(best.found.queries_with_duplicates),
    }
    # Seen: both paintings by artists of the fit's reference; unseen: both by held-out artists.
    for name, mask in (
        ("seen", ~unseen[first] & ~unseen[second]),
        ("unseen", unseen[first] & unseen[second]),
    ):
        if same[mask].any() and not same[mask].all():
            report[f"auc_{name}"] = roc_auc(same[mask], score[mask])
            report[f"auc_{name}_cosine"] = roc_auc(same[mask], plain[mask])
    return Combiner(
        k=best.k,
        temperature=best.temperature,
        unknown_similarity=best.level,
        keep=keep,
        coefficients=tuple(float(c) for c in coefficients),
        features=FEATURES,
        near_duplicate=best.threshold,
        shrinkage=best.shrinkage,
        positive_share=float(np.average(same, weights=weight)),
        pairs=int(len(same)),
        report=report,
    )


def fit_reference(reference: Reference, **options: object) -> Reference:
    """The reference carrying a combiner fitted by `fit_combiner` (``options`` go to it) and the
    projection of the chosen shrinkage, fitted on all its paintings."""
    combiner = fit_combiner(reference, **options)  # type: ignore[arg-type]
    projection = None
    if combiner.shrinkage is not None:
        projection = fit_projection(reference.vectors, reference.artist_ids, combiner.shrinkage)
    return reference.fitted(combiner, projection)
