"""Score pairs with a labelled reference set, as the competition's winner did.

A test painting whose artist also has labelled paintings is easier to place than a stranger: its
nearest labelled paintings say who painted it. Given a fitted
`painter_match.inference.reference.set.Reference` and each test painting's nearest reference
paintings (`painter_match.inference.reference.search.neighbours`, self-matches left out), this
module turns those into a posterior over the reference artists with a mass for "an artist not
in the reference" (`artist_posterior`) and scores pairs block by block from it
(`score_pairs_with_reference`): a small logistic model on the pair's cosine, the chance that both
are by the same reference artist, and how unknown each painting is. `query_evidence` does the
per-painting part once for a set of test paintings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from painter_match.inference.reference.search import Neighbours, Search, neighbours
from painter_match.inference.reference.set import DEFAULT_KEEP, FEATURES, Combiner, Reference
from painter_match.inference.similarity import pairwise_cosine

# Pairs per step of `score_pairs_with_reference`: the feature block stays in cache.
_PAIR_BLOCK = 1 << 16
# `same_artist_probability` looks pairs up in a dense [runs, artists] table when a block's pairs
# come in runs of one painting at least this long on average, and the table fits in this.
_MIN_RUN = 16
_TABLE_BYTES = 16 << 20
_LOG_FLOOR = 1e-3  # added before the logarithm: P(same) below it carries no further information


# --- posterior over the reference artists ---------------------------------------------------


@dataclass(frozen=True)
class Posterior:
    """Each painting's posterior over reference artists, sparse: the top few and the rest pooled.

    ``probabilities.sum(1) + other + unknown == 1`` for every row.

    Attributes:
        artists: int32 ``[Q, keep]`` artist ids, most probable first; -1 where fewer remain.
        probabilities: float32 ``[Q, keep]``; 0 where the id is -1.
        other: float32 ``[Q]``: the mass of reference artists beyond the top ``keep``.
        unknown: float32 ``[Q]``: the mass of "an artist not in the reference".
        best_similarity: float32 ``[Q]``: similarity of the nearest counted reference painting
            (-1 when none is left).
        artist_count: how many artists the reference has (ids lie below it).
    """

    artists: np.ndarray
    probabilities: np.ndarray
    other: np.ndarray
    unknown: np.ndarray
    best_similarity: np.ndarray
    artist_count: int

    def __len__(self) -> int:
        return int(self.unknown.shape[0])

    @cached_property
    def _table_columns(self) -> np.ndarray:
        """``artists`` with -1 replaced by ``artist_count`` (a column that always holds 0), intp."""
        return np.where(self.artists < 0, self.artist_count, self.artists).astype(np.intp)


def artist_posterior(
    similarities: np.ndarray,
    indices: np.ndarray,
    reference: Reference,
    *,
    temperature: float,
    unknown_similarity: float,
    keep: int = DEFAULT_KEEP,
) -> Posterior:
    """Similarity-weighted posterior over the reference artists, with an "unknown" mass.

    Each neighbour j votes ``exp(s_j / T)`` for its artist; "an artist not in the reference" is
    one pseudo-neighbour at ``unknown_similarity``, so a painting whose neighbours are all far
    below it puts its mass on the unknown, and one with several close neighbours of one artist
    on that artist. The weights are normalised to sum to 1.

    Args:
        similarities: float32 ``[Q, k]`` from `neighbours` (``-inf`` where none).
        indices: ``[Q, k]`` reference rows (-1 where none).
        reference: gives each row's artist.
        temperature: softmax temperature (> 0); smaller trusts the nearest neighbour more.
        unknown_similarity: where the unknown pseudo-neighbour stands.
        keep: artists kept per row.

    Raises:
        ValueError: for mismatched shapes, rows outside the reference, or a bad temperature/keep.
    """
    sims = np.asarray(similarities, dtype=np.float32)
    idx = np.asarray(indices)
    if sims.ndim != 2 or idx.shape != sims.shape:
        raise ValueError(f"similarities and indices must both be [Q, k], got {sims.shape} and {idx.shape}")
    if not temperature > 0 or keep < 1:
        raise ValueError(f"temperature must be > 0 and keep >= 1, got {temperature} and {keep}")
    if idx.size and (idx.max() >= len(reference) or idx.min() < -1):
        raise ValueError(f"indices must be rows of the reference, in [-1, {len(reference)})")
    n, k = sims.shape
    valid = (idx >= 0) & np.isfinite(sims)
    logits = np.where(valid, sims.astype(np.float64) / temperature, -np.inf)
    unknown_logit = unknown_similarity / temperature
    top = np.maximum(logits.max(axis=1, initial=-np.inf), unknown_logit)
    weights = np.exp(logits - top[:, None])  # exp(-inf) = 0 for missing neighbours
    unknown_weight = np.exp(unknown_logit - top)
    total = weights.sum(axis=1) + unknown_weight
    artist = np.where(valid, reference.artist_ids[np.maximum(idx, 0)], -1)
    # Sum the weights per artist within each row: sort each row by artist, then a segment is a
    # run of one id; its sum goes to its last position.
    order = np.argsort(artist, axis=1, kind="stable")
    artist_sorted = np.take_along_axis(artist, order, axis=1)
    weight_sorted = np.take_along_axis(weights, order, axis=1)
    running = np.cumsum(weight_sorted, axis=1)
    last = np.ones((n, k), dtype=bool)
    last[:, :-1] = artist_sorted[:, 1:] != artist_sorted[:, :-1]
    ends = np.where(last, running, 0.0)
    previous_end = np.maximum.accumulate(np.where(last, np.arange(k)[None, :], -1), axis=1)
    before = np.zeros((n, k))
    before[:, 1:] = np.take_along_axis(running, np.maximum(previous_end[:, :-1], 0), axis=1) * (
        previous_end[:, :-1] >= 0
    )
    segment = np.where(last & (artist_sorted >= 0), ends - before, 0.0)
    kept = min(keep, k)
    best = np.argsort(-segment, axis=1, kind="stable")[:, :kept]
    kept_weight = np.take_along_axis(segment, best, axis=1)
    kept_artist = np.where(kept_weight > 0, np.take_along_axis(artist_sorted, best, axis=1), -1)
    probabilities = np.zeros((n, keep), dtype=np.float32)
    artists = np.full((n, keep), -1, dtype=np.int32)
    probabilities[:, :kept] = kept_weight / total[:, None]
    artists[:, :kept] = kept_artist
    unknown = unknown_weight / total
    other = np.clip(1.0 - probabilities.sum(axis=1, dtype=np.float64) - unknown, 0.0, 1.0)
    best_similarity = np.where(valid[:, 0], sims[:, 0], -1.0) if k else np.full(n, -1.0)
    return Posterior(
        artists=artists,
        probabilities=probabilities,
        other=other.astype(np.float32),
        unknown=unknown.astype(np.float32),
        best_similarity=np.asarray(best_similarity, dtype=np.float32),
        artist_count=len(reference.artists),
    )


# --- pair features and scores ---------------------------------------------------------------


def same_artist_probability(posterior: Posterior, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """P(both paintings are by the same reference artist) = sum_c p_first(c) p_second(c), float32.

    When one side comes in runs of one painting (Kaggle lists each image's pairs together), each
    run's posterior is spread into a dense row over the artists and the other side looks its
    artists up there: ``keep`` reads per pair instead of ``keep^2`` comparisons (measured 2.8x
    faster). Otherwise each pair's two sparse posteriors are compared entry by entry.
    """
    n = len(first)
    out = np.zeros(n, dtype=np.float32)
    if n == 0:
        return out
    fixed, other, breaks = _fixed_side(first, second)
    width = posterior.artist_count + 1
    if n >= _MIN_RUN * (len(breaks) + 1) and (len(breaks) + 1) * width * 4 <= _TABLE_BYTES:
        starts = np.r_[0, breaks]
        table = np.zeros((len(starts), width), dtype=np.float32)
        runs = fixed[starts]
        table[np.arange(len(starts))[:, None], np.take(posterior._table_columns, runs, axis=0)] = np.take(
            posterior.probabilities, runs, axis=0
        )
        offset = np.zeros(n, dtype=np.intp)
        offset[breaks] = width
        np.cumsum(offset, out=offset)  # each pair's run, as the start of its row in the table
        looked_up = np.take(table.ravel(), np.take(posterior._table_columns, other, axis=0) + offset[:, None])
        return np.einsum("ij,ij->i", looked_up, np.take(posterior.probabilities, other, axis=0), out=out)
    a_artist = np.take(posterior.artists, first, axis=0)
    a_p = np.take(posterior.probabilities, first, axis=0)
    b_artist = np.take(posterior._table_columns, second, axis=0)  # -1 there never matches an id
    b_p = np.take(posterior.probabilities, second, axis=0)
    for i in range(a_artist.shape[1]):
        match = b_artist == a_artist[:, i : i + 1]
        out += a_p[:, i] * np.einsum("ij,ij->i", b_p, match.astype(np.float32))
    return out


def _fixed_side(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The side with fewer runs of one painting, the other side, and where the runs break."""
    breaks1 = np.flatnonzero(first[1:] != first[:-1]) + 1
    breaks2 = np.flatnonzero(second[1:] != second[:-1]) + 1
    return (first, second, breaks1) if len(breaks1) <= len(breaks2) else (second, first, breaks2)


def pair_features(
    cosine: np.ndarray, posterior: Posterior, first: np.ndarray, second: np.ndarray
) -> np.ndarray:
    """The combiner's `FEATURES` of each pair, float32 ``[n, len(FEATURES)]`` (columns contiguous).

    In order: 1 (the bias); the cosine; P(same reference artist) (`same_artist_probability`) and
    its logarithm; the sum and the product of the two unknown masses, and the cosine times that
    product (the cosine is all there is when both artists are unknown).

    Args:
        cosine: float32 ``[n]`` cosine of each pair.
        posterior: the paintings' posteriors.
        first, second: ``[n]`` rows of the two paintings in ``posterior``.
    """
    same = same_artist_probability(posterior, first, second)
    unknown_a = np.take(posterior.unknown, first)
    unknown_b = np.take(posterior.unknown, second)
    out = np.empty((len(first), len(FEATURES)), dtype=np.float32, order="F")
    out[:, 0] = 1.0
    out[:, 1] = cosine
    out[:, 2] = same
    np.log(same + np.float32(_LOG_FLOOR), out=out[:, 3])
    np.add(unknown_a, unknown_b, out=out[:, 4])
    np.multiply(unknown_a, unknown_b, out=out[:, 5])
    np.multiply(cosine, out[:, 5], out=out[:, 6])
    return out


@dataclass(frozen=True)
class QueryEvidence:
    """What the reference says about each of a set of paintings, computed once before their pairs.

    Attributes:
        vectors: float32 ``[Q, D]`` the paintings in the reference's search space (pair cosines
            are taken between these).
        posterior: their posteriors over the reference artists.
        neighbours: their nearest reference paintings, and the self-matches left out.
    """

    vectors: np.ndarray
    posterior: Posterior
    neighbours: Neighbours

    def __len__(self) -> int:
        return int(self.vectors.shape[0])


def query_evidence(
    queries: np.ndarray,
    reference: Reference,
    *,
    query_digests: Sequence[str | None] | None = None,
    block: int | None = None,
    search: Search = "auto",
) -> QueryEvidence:
    """`neighbours` then `artist_posterior`, with the settings of the reference's combiner.

    Args:
        queries: float32 ``[Q, D]`` unit embeddings of the paintings to score, as embedded.
        reference: a fitted reference (`reference.fit.fit_reference`).
        query_digests: each painting's `file_digest`, so the same file in the reference is
            recognised whatever its similarity; None when the files are not at hand.
        block: queries per matrix product (default: see `reference.search.neighbours`).
        search: how neighbours are found (`reference.search.neighbours`).

    Raises:
        ValueError: the reference has no combiner (fit it first), or a wrong shape.
    """
    combiner = reference.combiner
    if combiner is None:
        raise ValueError("the reference has no fitted combiner; fit one with reference.fit.fit_reference")
    found = neighbours(
        queries,
        reference,
        combiner.k,
        query_digests=query_digests,
        near_duplicate=combiner.near_duplicate,
        block=block,
        search=search,
    )
    posterior = artist_posterior(
        found.similarities,
        found.indices,
        reference,
        temperature=combiner.temperature,
        unknown_similarity=combiner.unknown_similarity,
        keep=combiner.keep,
    )
    # Projected again here (a [Q, D] x [D, D] product, tens of milliseconds at Kaggle's size).
    return QueryEvidence(vectors=reference.project(queries), posterior=posterior, neighbours=found)


def score_pairs_with_reference(
    first_idx: np.ndarray,
    second_idx: np.ndarray,
    evidence: QueryEvidence,
    combiner: Combiner,
    *,
    cosine: np.ndarray | None = None,
) -> np.ndarray:
    """P(same artist) of each pair of paintings, from what the reference says about each.

    Works on any slice of a pairs file, so the streaming pairs engine can call it block by block;
    runs of one painting on either side (Kaggle's order) take the fast paths.

    Args:
        first_idx, second_idx: equally long integer arrays of rows of ``evidence``.
        evidence: `query_evidence` of the paintings.
        combiner: the fitted model (``reference.combiner``).
        cosine: the pairs' cosines in the search space (``evidence.vectors``), when the caller
            already has them.

    Returns:
        float32 ``[n]`` probabilities.

    Raises:
        ValueError: mismatched lengths or shapes.
    """
    first = np.asarray(first_idx)
    second = np.asarray(second_idx)
    if first.shape != second.shape or first.ndim != 1:
        raise ValueError(f"first_idx and second_idx must both be [n], got {first.shape} and {second.shape}")
    if cosine is None:
        cosine = pairwise_cosine(evidence.vectors, first, second)
    elif np.shape(cosine) != first.shape:
        raise ValueError(f"cosine must be [{len(first)}], got shape {np.shape(cosine)}")
    out = np.empty(len(first), dtype=np.float32)
    coefficients = np.asarray(combiner.coefficients, dtype=np.float32)
    for start in range(0, len(first), _PAIR_BLOCK):
        stop = start + _PAIR_BLOCK
        features = pair_features(
            cosine[start:stop], evidence.posterior, first[start:stop], second[start:stop]
        )
        out[start:stop] = _sigmoid32(_logit(features, coefficients))
    return out


def _sigmoid32(z: np.ndarray) -> np.ndarray:
    """The logistic function in float32, exact in both tails (overwrites ``z``).

    ``exp(-|z|)`` never overflows, and the lower tail is ``exp(z) / (1 + exp(z))``, which float32
    holds down to z = -87: ``(1 + tanh(z / 2)) / 2`` rounded to 0 from z = -17 on, so at ``--prior
    1e-8`` (the bias lowered by 18.4) most pairs tied at 0 and the AUC fell from 0.955 to 0.897.
    """
    negative = z < 0
    np.abs(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)  # exp(-|z|), in (0, 1]
    denominator = z + np.float32(1.0)
    np.copyto(z, np.float32(1.0), where=~negative)  # numerator: 1 above 0, exp(z) below
    np.divide(z, denominator, out=z)
    return z


def _logit(features: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
    """``features @ coefficients`` column by column (the columns are contiguous; column 0 is the
    bias, all ones).

    Not a BLAS call: between the pairs engine's own small products, OpenBLAS's threads spin and
    slowed the whole block threefold (measured); `features @ coefficients` on column-major
    features is slower still (10 ms per 65k pairs against 0.5 ms).
    """
    z = np.full(features.shape[0], coefficients[0], dtype=np.float32)
    term = np.empty_like(z)
    for column in range(1, features.shape[1]):
        np.multiply(features[:, column], coefficients[column], out=term)
        z += term
    return z


def top_artists(evidence: QueryEvidence, reference: Reference, row: int) -> dict[str, object]:
    """One painting's posterior in words: its most probable reference artists, "other" and "unknown".

    Returns:
        ``{"artists": [{"artist": name, "probability": p}, ...], "other": p, "unknown": p,
        "best_similarity": s, "excluded_as_itself": n}`` (most probable first; ``excluded_as_itself``
        counts the reference paintings left out as the painting itself).
    """
    posterior = evidence.posterior
    found = evidence.neighbours
    artists = [
        {"artist": reference.artists[int(a)], "probability": round(float(p), 6)}
        for a, p in zip(posterior.artists[row].tolist(), posterior.probabilities[row].tolist())
        if a >= 0
    ]
    return {
        "artists": artists,
        "other": round(float(posterior.other[row]), 6),
        "unknown": round(float(posterior.unknown[row]), 6),
        "best_similarity": round(float(posterior.best_similarity[row]), 6),
        "excluded_as_itself": int(found.same_content[row] + found.near_duplicates[row]),
    }


def verify_with_reference(
    first: np.ndarray,
    second: np.ndarray,
    reference: Reference,
    *,
    digests: Sequence[str | None] | None = None,
) -> tuple[float, list[dict[str, object]]]:
    """P(same artist) of one pair with the reference, and each painting's `top_artists`.

    Args:
        first, second: float32 ``[D]`` unit embeddings of the two paintings.
        reference: a fitted reference made by the same model.
        digests: the two files' `reference.set.file_digest`, so a painting that is itself in the
            reference is left out of its own evidence whatever its similarity.

    Raises:
        ValueError: the reference has no combiner, or a wrong shape.
    """
    evidence = query_evidence(np.stack([first, second]), reference, query_digests=digests)
    combiner = reference.combiner
    assert combiner is not None  # query_evidence refuses a reference without one
    pair = np.array([0]), np.array([1])
    probability = float(score_pairs_with_reference(pair[0], pair[1], evidence, combiner)[0])
    return probability, [top_artists(evidence, reference, row) for row in (0, 1)]
