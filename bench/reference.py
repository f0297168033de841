"""Reference scoring at Kaggle scale: top-k against 80k labelled paintings, then 21.9M pairs.

`measure` builds a reference of random unit vectors (the arithmetic does not depend on their
values) of Kaggle's size (79,433 training paintings, rounded to 80,000, of 1,584 artists; 23,817
test paintings; 256-d), with a projection, and times
`painter_match.inference.reference.query_evidence` (the projection, the nearest-neighbour search
and the artist posteriors). It then scores Kaggle's 21,916,047 pairs in the pairs engine's block
size (about 150k rows per 4 MiB of CSV) and Kaggle's order (each image's pairs together as
``image1``, as `bench.pairs_synth` writes them) both ways, alternating: with plain
`painter_match.inference.similarity.pairwise_cosine` plus calibration, as ``score`` does today,
and with `score_pairs_with_reference`. What reference scoring adds to a ``score`` run is the
search time plus the difference of the two pair times (their blocks are drawn, and timed, the
same way); the row reports the three, CPU seconds beside wall seconds, and the peak RSS.
``python -m bench.reference`` prints the row as JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from bench.runner import peak_rss_mb

KAGGLE_REFERENCE = 80_000
KAGGLE_ARTISTS = 1_584
KAGGLE_IMAGES = 23_817
KAGGLE_PAIRS = 21_916_047
ENGINE_BLOCK = 150_000  # rows of one 4 MiB CSV block of the pairs engine


def measure(
    references: int = KAGGLE_REFERENCE,
    queries: int = KAGGLE_IMAGES,
    pairs: int = KAGGLE_PAIRS,
    dim: int = 256,
    artists: int = KAGGLE_ARTISTS,
    seed: int = 0,
    repeats: int = 2,
) -> dict[str, Any]:
    """One bench row: seconds of the top-k + posterior, of plain and of reference pair scoring
    (each pair loop the fastest of ``repeats``, alternating)."""
    from painter_match.inference.calibration import Calibration
    from painter_match.inference.reference import query_evidence, score_pairs_with_reference
    from painter_match.inference.reference.set import Combiner, Projection, Reference
    from painter_match.inference.similarity import pairwise_cosine

    rng = np.random.default_rng(seed)
    reference = Reference(
        vectors=_units(rng, references, dim),
        artist_ids=rng.integers(0, artists, references, dtype=np.int32),
        artists=[f"artist {i}" for i in range(artists)],
        paths=[f"{i}.jpg" for i in range(references)],
        digests=[None] * references,
        projection=Projection(np.zeros(dim, np.float32), rng.standard_normal((dim, dim), dtype=np.float32)),
        # Untrained values: any coefficients cost the same to apply.
        combiner=Combiner(coefficients=(-3.0, 8.0, 4.0, 0.3, -0.5, -1.0, 2.0)),
    )
    test = _units(rng, queries, dim)
    inputs_mb = peak_rss_mb()

    started, cpu = time.perf_counter(), time.process_time()
    evidence = query_evidence(test, reference)  # projects the reference too (once)
    topk_s, topk_cpu = time.perf_counter() - started, time.process_time() - cpu
    topk_mb = peak_rss_mb()

    calibration = Calibration(slope=10.0, intercept=-5.0, threshold=0.5, positive_share=0.5, pairs=0)
    combiner = reference.combiner
    assert combiner is not None

    def plain() -> None:
        for first, second in _kaggle_blocks(queries, pairs, seed):
            calibration.probability(pairwise_cosine(test, first, second))

    def with_reference() -> None:
        for first, second in _kaggle_blocks(queries, pairs, seed):
            score_pairs_with_reference(first, second, evidence, combiner)

    # Alternated, each twice, the faster of each kept: the first pass over the pairs warms what
    # both share, and on a shared machine the two see the same interference.
    times: dict[str, list[tuple[float, float]]] = {"plain": [], "reference": []}
    for _ in range(repeats):
        for name, run in (("plain", plain), ("reference", with_reference)):
            started, cpu = time.perf_counter(), time.process_time()
            run()
            times[name].append((time.perf_counter() - started, time.process_time() - cpu))
    plain_s, plain_cpu = min(times["plain"])
    reference_s, reference_cpu = min(times["reference"])
    return {
        "stage": "score",
        "engine": "painter-match --reference",
        "name": "reference scoring (top-k + posterior, pairs)",
        "references": references,
        "queries": queries,
        "pairs": pairs,
        "dim": dim,
        "k": combiner.k,
        "repeats": repeats,
        "topk_posterior_s": round(topk_s, 3),
        "plain_pairs_s": round(plain_s, 3),
        "reference_pairs_s": round(reference_s, 3),
        "added_s": round(topk_s + reference_s - plain_s, 3),
        # CPU seconds of this process (all its threads): steadier than wall time on a shared machine.
        "topk_posterior_cpu_s": round(topk_cpu, 3),
        "plain_pairs_cpu_s": round(plain_cpu, 3),
        "reference_pairs_cpu_s": round(reference_cpu, 3),
        "inputs_rss_mb": round(inputs_mb, 1),
        "topk_rss_mb": round(topk_mb, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "queries_with_duplicates": evidence.neighbours.queries_with_duplicates,
    }


def _units(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    vectors = rng.standard_normal((n, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def _kaggle_blocks(images: int, pairs: int, seed: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Kaggle-shaped pairs as row indices, one engine block at a time (as the engine holds them):
    image k (shuffled) is image1 of about pairs/images consecutive rows, image2 is any other."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(images)
    bounds = np.linspace(0, pairs, images + 1).astype(np.int64)
    for start in range(0, pairs, ENGINE_BLOCK):
        rows = np.arange(start, min(start + ENGINE_BLOCK, pairs))
        first = order[np.searchsorted(bounds, rows, side="right") - 1]
        second = rng.integers(0, images - 1, len(rows))
        second += second >= first
        yield first, second


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.reference [--references N] [--queries N] [--pairs N] [--dim D]``."""
    parser = argparse.ArgumentParser(prog="python -m bench.reference", description=__doc__)
    parser.add_argument("--references", type=int, default=KAGGLE_REFERENCE)
    parser.add_argument("--queries", type=int, default=KAGGLE_IMAGES)
    parser.add_argument("--pairs", type=int, default=KAGGLE_PAIRS)
    parser.add_argument("--dim", type=int, default=256)
    args = parser.parse_args(argv)
    row = measure(references=args.references, queries=args.queries, pairs=args.pairs, dim=args.dim)
    print(json.dumps(row, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
