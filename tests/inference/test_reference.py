"""Scoring with a labelled reference set: neighbours, posterior, combiner, file, and the fit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from onnx_models import tiny_info
from reference_kit import TRUSTING, basis, unit

from painter_match.data.views import Views
from painter_match.errors import DataError
from painter_match.inference.calibration import Calibration
from painter_match.inference.embeddings import Embeddings, EmbeddingSource
from painter_match.inference.reference import (
    artist_posterior,
    pair_features,
    query_evidence,
    same_artist_probability,
    score_pairs_with_reference,
)
from painter_match.inference.reference.fit import (
    fit_combiner,
    fit_logistic,
    fit_projection,
    fit_reference,
    near_duplicate_threshold,
    split_for_fit,
)
from painter_match.inference.reference.search import int8_search_model, neighbours
from painter_match.inference.reference.set import (
    FEATURES,
    NEAR_DUPLICATE,
    Combiner,
    Reference,
    build_reference,
    file_digest,
    load_reference,
    save_reference,
)
from painter_match.inference.similarity import pairwise_cosine


def make_reference(vectors: np.ndarray, artists: list[int], combiner: Combiner | None = None) -> Reference:
    names = [f"artist {i}" for i in range(max(artists) + 1)]
    return Reference(
        vectors=vectors,
        artist_ids=np.asarray(artists, dtype=np.int32),
        artists=names,
        paths=[f"{i}.jpg" for i in range(len(artists))],
        digests=[None] * len(artists),
        combiner=combiner,
    )


def random_units(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_reference_decides_a_pair_that_cosine_alone_gets_wrong() -> None:
    # Artist 0 painted in two directions (e0, e1); artists 1 and 2 one each (e4, e5).
    d = 8
    reference = make_reference(
        unit(basis(d, (0, 1)), basis(d, (1, 1)), basis(d, (4, 1)), basis(d, (5, 1)), basis(d, (7, 1))),
        [0, 0, 1, 2, 3],
        TRUSTING,
    )
    # Two paintings of artist 0, far apart (cosine 0) but each close to one of its references;
    # two paintings of artists 1 and 2 that look alike (cosine 0.39) through a shared e6.
    tests = unit(
        basis(d, (0, 1), (2, 0.3)),
        basis(d, (1, 1), (3, 0.3)),
        basis(d, (4, 1), (6, 0.8)),
        basis(d, (5, 1), (6, 0.8)),
    )
    first, second = np.array([0, 2]), np.array([1, 3])
    cosine = pairwise_cosine(tests, first, second)
    assert cosine[0] < 0.05 < 0.35 < cosine[1]  # cosine ranks the different-artist pair first
    calibration = Calibration(slope=10.0, intercept=-5.0, threshold=0.5, positive_share=0.5, pairs=0)
    plain = calibration.probability(cosine)
    assert plain[0] < plain[1]

    evidence = query_evidence(tests, reference)
    assert evidence.neighbours.queries_with_duplicates == 0
    scores = score_pairs_with_reference(first, second, evidence, TRUSTING)
    assert scores[0] > 0.9 and scores[1] < 0.2  # the reference gets both right
    assert same_artist_probability(evidence.posterior, first, second)[0] > 0.99


def test_a_painting_in_the_reference_is_not_evidence_for_itself(tmp_path: Path) -> None:
    d = 8
    painting = unit(basis(d, (0, 1), (1, 0.2)))[0]
    near_other = unit(basis(d, (0, 1), (2, 0.45)))[0]  # another artist's painting, cosine ~0.9
    reference = make_reference(np.stack([painting, near_other, unit(basis(d, (5, 1)))[0]]), [0, 1, 2])
    reference.digests[0] = "abc"
    # Query 0: the same file (digest) re-encoded slightly; query 1: an exact copy without a digest.
    slightly_changed = unit(list(painting + 0.02 * np.eye(d, dtype=np.float32)[3]))[0]
    queries = np.stack([slightly_changed, painting])
    found = neighbours(queries, reference, 2, query_digests=["abc", None])
    assert found.same_content.tolist() == [1, 0]
    assert found.near_duplicates.tolist() == [0, 1]
    assert found.queries_with_duplicates == 2
    assert found.report()["queries_with_duplicates"] == 2
    assert (found.indices != 0).all()  # the painting itself is no neighbour of either query
    posterior = artist_posterior(
        found.similarities, found.indices, reference, temperature=0.05, unknown_similarity=0.5, keep=3
    )
    assert 0 not in posterior.artists.tolist()[0] + posterior.artists.tolist()[1]
    assert (posterior.artists[:, 0] == 1).all()  # the nearest remaining evidence is artist 1
    # Without the rule the painting would have voted for its own artist.
    unguarded = neighbours(queries, reference, 2, near_duplicate=1.1)
    assert (unguarded.indices[:, 0] == 0).all()


def test_the_same_file_is_found_by_its_digest(tmp_path: Path) -> None:
    (tmp_path / "ref").mkdir()
    (tmp_path / "ref" / "a.jpg").write_bytes(b"painting a")
    (tmp_path / "ref" / "b.jpg").write_bytes(b"painting b")
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "copy.jpg").write_bytes(b"painting a")
    vectors = unit(basis(4, (0, 1)), basis(4, (1, 1)))
    reference = build_reference(
        embeddings_of(["a.jpg", "b.jpg"], vectors, root=tmp_path / "ref"),
        {"a.jpg": "Monet", "b.jpg": "Manet"},
    )
    assert reference.digests == [
        file_digest(tmp_path / "ref" / "a.jpg"),
        file_digest(tmp_path / "ref" / "b.jpg"),
    ]
    query = unit(basis(4, (0, 1), (1, 0.5)))  # cosine 0.89 with a.jpg: only the digest says "itself"
    found = neighbours(query, reference, 2, query_digests=[file_digest(tmp_path / "test" / "copy.jpg")])
    assert found.same_content.tolist() == [1]
    assert found.indices.tolist() == [[1, -1]]
    assert found.similarities[0, 1] == -np.inf


@pytest.mark.parametrize(
    ("n_ref", "k", "block"),
    [(50, 5, 7), (3000, 10, 64), (3001, 7, 1000), (12, 20, 5), (1, 1, 3)],
)
def test_blocked_top_k_equals_a_full_sort(n_ref: int, k: int, block: int) -> None:
    rng = np.random.default_rng(n_ref)
    reference = make_reference(random_units(rng, n_ref, 16), rng.integers(0, 5, n_ref).tolist())
    queries = random_units(rng, 130, 16)
    found = neighbours(queries, reference, k, block=block)
    similarities = queries @ reference.vectors.T
    order = np.argsort(-similarities, axis=1, kind="stable")[:, :k]
    kept = min(k, n_ref)
    assert found.indices.shape == found.similarities.shape == (130, k)
    np.testing.assert_array_equal(found.indices[:, :kept], order)
    np.testing.assert_allclose(
        found.similarities[:, :kept], np.take_along_axis(similarities, order, axis=1), rtol=1e-6, atol=1e-6
    )
    assert (found.indices[:, kept:] == -1).all() and (found.similarities[:, kept:] == -np.inf).all()


@pytest.mark.parametrize(("n_ref", "k"), [(3000, 10), (200, 30), (40, 5)])
def test_int8_search_finds_the_exact_neighbours(n_ref: int, k: int) -> None:
    rng = np.random.default_rng(n_ref + 1)
    reference = make_reference(random_units(rng, n_ref, 64), rng.integers(0, 5, n_ref).tolist())
    queries = random_units(rng, 150, 64)
    exact = neighbours(queries, reference, k, search="exact")
    quantized = neighbours(queries, reference, k, search="int8", block=64)
    kept = min(k, n_ref)
    rows = zip(exact.indices[:, :kept].tolist(), quantized.indices[:, :kept].tolist())
    assert np.mean([set(a) == set(b) for a, b in rows]) >= 0.98  # only near-ties may differ
    # The similarities returned are exact ones, best first.
    recomputed = np.einsum("qkd,qd->qk", reference.vectors[quantized.indices[:, :kept]], queries)
    np.testing.assert_allclose(quantized.similarities[:, :kept], recomputed, atol=1e-5)
    assert (np.diff(quantized.similarities[:, :kept], axis=1) <= 0).all()
    np.testing.assert_allclose(quantized.similarities[:, :kept], exact.similarities[:, :kept], atol=0.01)


def test_int8_search_leaves_out_self_matches_like_the_exact_one() -> None:
    rng = np.random.default_rng(8)
    vectors = random_units(rng, 500, 32)
    # Query 0 has 60 copies in the reference (more than the int8 candidates), query 1 its own file.
    reference_vectors = np.concatenate([vectors, np.repeat(vectors[:1], 60, axis=0)])
    reference = make_reference(reference_vectors, rng.integers(0, 4, len(reference_vectors)).tolist())
    reference.digests[7] = "own file"
    queries = vectors[[0, 1, 2]].copy()
    digests = [None, "own file", None]
    results = [neighbours(queries, reference, 10, query_digests=digests, search=s) for s in ("exact", "int8")]
    for found in results:
        assert found.near_duplicates[0] == 61  # itself and its 60 copies
        assert found.same_content.tolist() == [0, 1, 0]
        assert found.near_duplicates[1] == 1 and found.near_duplicates[2] == 1  # themselves
        assert not np.isin(found.indices[0], [0, *range(500, 560)]).any()
        assert 7 not in found.indices[1]
    np.testing.assert_array_equal(results[0].indices, results[1].indices)
    np.testing.assert_allclose(results[0].similarities, results[1].similarities, atol=1e-6)


def test_the_int8_search_model_is_the_one_onnx_builds() -> None:
    onnx = pytest.importorskip("onnx", reason="the reference graph is built with onnx.helper (needs onnx)")
    from onnx import TensorProto, helper, numpy_helper

    codes = np.random.default_rng(0).integers(-127, 128, (8, 70)).astype(np.int8)
    nodes = [
        helper.make_node("MatMulInteger", ["queries", "reference", "zero"], ["scores"]),
        helper.make_node("TopK", ["scores", "k"], ["values", "indices"], axis=1, largest=1, sorted=0),
    ]
    inputs = [
        helper.make_tensor_value_info("queries", TensorProto.UINT8, ["batch", "dim"]),
        helper.make_tensor_value_info("k", TensorProto.INT64, [1]),
    ]
    outputs = [helper.make_tensor_value_info("indices", TensorProto.INT64, ["batch", "candidates"])]
    initializers = [
        numpy_helper.from_array(np.array(128, np.uint8), "zero"),
        numpy_helper.from_array(codes, "reference"),
    ]
    graph = helper.make_graph(nodes, "painter_match_int8_top_k", inputs, outputs, initializers)
    expected = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="painter-match"
    )
    expected.ir_version = 8
    built = onnx.load_model_from_string(int8_search_model(codes))
    onnx.checker.check_model(built, full_check=True)
    assert built == expected


def test_posterior_sums_to_one_with_the_unknown_and_matches_a_loop() -> None:
    rng = np.random.default_rng(0)
    reference = make_reference(random_units(rng, 400, 8), rng.integers(0, 9, 400).tolist())
    queries = random_units(rng, 50, 8)
    found = neighbours(queries, reference, 12)
    temperature, unknown_similarity = 0.1, 0.6
    posterior = artist_posterior(
        found.similarities,
        found.indices,
        reference,
        temperature=temperature,
        unknown_similarity=unknown_similarity,
        keep=3,
    )
    total = posterior.probabilities.sum(axis=1) + posterior.other + posterior.unknown
    np.testing.assert_allclose(total, 1.0, atol=1e-6)
    for q in range(len(queries)):
        mass: dict[int, float] = {}
        weights = [np.exp(s / temperature) for s in found.similarities[q]]
        unknown = np.exp(unknown_similarity / temperature)
        for row, weight in zip(found.indices[q], weights):
            artist = int(reference.artist_ids[row])
            mass[artist] = mass.get(artist, 0.0) + weight
        norm = sum(weights) + unknown
        expected = sorted(mass.values(), reverse=True)[:3]
        np.testing.assert_allclose(
            posterior.probabilities[q, : len(expected)], np.array(expected) / norm, rtol=1e-5
        )
        assert posterior.unknown[q] == pytest.approx(unknown / norm, rel=1e-5)
        top_artist = max(mass, key=lambda a: mass[a])
        assert posterior.artists[q, 0] == top_artist
    assert posterior.best_similarity.tolist() == pytest.approx(found.similarities[:, 0].tolist())


def test_posterior_of_a_painting_with_no_neighbour_left_is_all_unknown() -> None:
    reference = make_reference(unit(basis(4, (0, 1))), [0])
    found = neighbours(unit(basis(4, (0, 1))), reference, 3)  # the only reference is itself
    posterior = artist_posterior(
        found.similarities, found.indices, reference, temperature=0.05, unknown_similarity=0.5
    )
    assert posterior.unknown.tolist() == [1.0]
    assert posterior.artists.tolist() == [[-1, -1, -1, -1]]
    assert posterior.best_similarity.tolist() == [-1.0]


def test_fit_logistic_recovers_a_known_model() -> None:
    rng = np.random.default_rng(3)
    n = 100_000
    features = np.c_[np.ones(n), rng.normal(2.0, 1.5, n), rng.uniform(0, 1, n), rng.normal(0, 1, n)]
    truth = np.array([-1.0, 0.8, -2.0, 1.5])
    labels = rng.uniform(size=n) < 1 / (1 + np.exp(-features @ truth))
    np.testing.assert_allclose(fit_logistic(features, labels), truth, atol=0.08)
    # Down-sampled negatives, weighted back by their sampling rate, give the same model.
    keep = labels | (rng.uniform(size=n) < 0.25)
    weights = np.where(labels, 1.0, 4.0)[keep]
    np.testing.assert_allclose(fit_logistic(features[keep], labels[keep], weights=weights), truth, atol=0.12)
    with pytest.raises(ValueError, match="both"):
        fit_logistic(features, np.zeros(n))


def clustered(
    rng: np.random.Generator, artists: int, each: int, dim: int, spread: float
) -> tuple[np.ndarray, np.ndarray]:
    """Paintings of ``artists`` artists around their own centres; within-artist spread mostly
    along a few shared directions (as a model's nuisance directions are)."""
    centres = random_units(rng, artists, dim)
    ids = np.repeat(np.arange(artists), each)
    nuisance = np.zeros(dim, dtype=np.float32)
    nuisance[:3] = 3.0
    noise = rng.standard_normal((len(ids), dim)).astype(np.float32) * (0.3 + nuisance)
    vectors = centres[ids] + spread * noise
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), ids


def test_fit_reference_uses_held_out_paintings_and_beats_cosine_on_known_artists() -> None:
    rng = np.random.default_rng(5)
    vectors, artists = clustered(rng, 24, 12, 16, 0.3)
    reference = make_reference(vectors, artists.tolist())
    split = split_for_fit(reference.artist_ids, unseen_fraction=0.25, query_fraction=1 / 3, seed=0)
    assert len(split.unseen_artists) == 6
    assert not np.isin(split.reference_rows, split.query_rows).any()
    assert not np.isin(reference.artist_ids[split.reference_rows], split.unseen_artists).any()
    fitted = fit_reference(
        reference, shrinkages=(None, 0.01), ks=(5, 10), temperatures=(0.05, 0.1), unknown_quantiles=(0.3, 0.7)
    )
    combiner = fitted.combiner
    assert combiner is not None
    report = combiner.report
    assert report["auc_seen"] > report["auc_seen_cosine"]
    assert report["auc"] > report["auc_cosine"]
    assert 0.5 < report["auc_cross_validated"] <= 1.0
    assert combiner.k in (5, 10) and combiner.pairs > 0 and 0 < combiner.positive_share < 1
    # The projection is the one of the chosen shrinkage, fitted on every painting.
    assert (fitted.projection is None) == (combiner.shrinkage is None)
    assert combiner.near_duplicate >= NEAR_DUPLICATE
    named = fit_combiner(reference, unseen_artists=["artist 3", "artist 7"], ks=(5,), temperatures=(0.1,))
    assert named.pairs > 0
    with pytest.raises(ValueError, match="not in the reference"):
        fit_combiner(reference, unseen_artists=["nobody"])


def test_projection_brings_an_artists_paintings_together() -> None:
    rng = np.random.default_rng(6)
    vectors, artists = clustered(rng, 10, 20, 16, 0.3)
    projection = fit_projection(vectors, artists, 0.01)
    same = artists[:, None] == artists[None, :]
    off_diagonal = ~np.eye(len(artists), dtype=bool)

    def separation(v: np.ndarray) -> float:
        s = v @ v.T
        return float(s[same & off_diagonal].mean() - s[~same].mean()) / float(s[off_diagonal].std())

    projected = projection.apply(vectors)
    np.testing.assert_allclose(np.linalg.norm(projected, axis=1), 1.0, rtol=1e-5)
    assert separation(projected) > 1.5 * separation(vectors)
    with pytest.raises(ValueError, match="shrinkage must be positive"):
        fit_projection(vectors, artists, 0.0)
    with pytest.raises(ValueError, match="two or more paintings"):
        fit_projection(vectors[:3], np.arange(3), 0.01)


def test_near_duplicate_threshold_follows_the_models_spread() -> None:
    # A spread-out model: distinct paintings stay far below the floor, which then holds.
    assert near_duplicate_threshold(np.linspace(0.2, 0.9, 1000)) == NEAR_DUPLICATE
    # A compressed model (distinct paintings up to 0.999): the threshold rises above them.
    compressed = np.r_[np.linspace(0.95, 0.998, 999), 0.9991]
    assert near_duplicate_threshold(compressed) > 0.998
    assert near_duplicate_threshold(np.array([-np.inf])) == NEAR_DUPLICATE


def test_score_pairs_in_blocks_equals_the_features_and_any_order() -> None:
    rng = np.random.default_rng(2)
    reference = make_reference(random_units(rng, 300, 8), rng.integers(0, 6, 300).tolist(), TRUSTING)
    reference.projection = fit_projection(reference.vectors, reference.artist_ids, 0.05)
    queries = random_units(rng, 40, 8)
    evidence = query_evidence(queries, reference)
    np.testing.assert_allclose(evidence.vectors, reference.projection.apply(queries), rtol=1e-6)
    first = np.repeat(np.arange(40), 40)  # runs of one first painting, as Kaggle lists them
    second = np.tile(np.arange(40), 40)
    scores = score_pairs_with_reference(first, second, evidence, TRUSTING)
    cosine = np.einsum("ij,ij->i", evidence.vectors[first], evidence.vectors[second])
    features = pair_features(cosine, evidence.posterior, first, second).astype(np.float64)
    logit = features @ np.array(TRUSTING.coefficients)
    np.testing.assert_allclose(scores, 1 / (1 + np.exp(-logit)), rtol=1e-4, atol=1e-6)
    shuffled = rng.permutation(len(first))
    np.testing.assert_allclose(
        score_pairs_with_reference(first[shuffled], second[shuffled], evidence, TRUSTING),
        scores[shuffled],
        rtol=1e-5,
    )
    swapped = score_pairs_with_reference(second, first, evidence, TRUSTING)
    np.testing.assert_allclose(swapped, scores, rtol=1e-5)  # the features are symmetric
    assert score_pairs_with_reference(first[:0], second[:0], evidence, TRUSTING).shape == (0,)


@pytest.mark.parametrize("order", ["runs", "random"])
def test_same_artist_probability_equals_a_sum_over_artists(order: str) -> None:
    rng = np.random.default_rng(4)
    reference = make_reference(random_units(rng, 500, 8), rng.integers(0, 12, 500).tolist())
    queries = random_units(rng, 30, 8)
    found = neighbours(queries, reference, 15)
    posterior = artist_posterior(
        found.similarities, found.indices, reference, temperature=0.2, unknown_similarity=0.4, keep=3
    )
    dense = np.zeros((30, 12))
    for q in range(30):
        for artist, p in zip(posterior.artists[q], posterior.probabilities[q]):
            if artist >= 0:
                dense[q, artist] += p
    if order == "runs":  # one side in runs of one painting: the dense-table path
        first, second = np.repeat(np.arange(30), 30), np.tile(np.arange(30), 30)
    else:  # the entry-by-entry path
        first, second = rng.integers(0, 30, 900), rng.integers(0, 30, 900)
    expected = (dense[first] * dense[second]).sum(axis=1)
    np.testing.assert_allclose(same_artist_probability(posterior, first, second), expected, atol=1e-6)
    np.testing.assert_allclose(same_artist_probability(posterior, second, first), expected, atol=1e-6)


def embeddings_of(paths: list[str], vectors: np.ndarray, root: Path | str = "") -> Embeddings:
    source = EmbeddingSource(tiny_info(dim=vectors.shape[1]), Views())
    return Embeddings(paths=paths, vectors=vectors, source=source, root=str(root))


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    reference = make_reference(random_units(rng, 30, 4), rng.integers(0, 3, 30).tolist(), TRUSTING)
    reference.digests[3] = "0123abcd"
    reference.artists[1] = "Élisabeth Vigée Le Brun"
    reference.source = "model-identity/crops=1"
    reference.projection = fit_projection(reference.vectors, reference.artist_ids, 0.01)
    target = tmp_path / "ref.npz"
    assert save_reference(target, reference) == target
    loaded = load_reference(target)
    np.testing.assert_array_equal(loaded.vectors, reference.vectors)
    np.testing.assert_array_equal(loaded.artist_ids, reference.artist_ids)
    assert loaded.artists == reference.artists
    assert loaded.paths == reference.paths
    assert loaded.digests == reference.digests
    assert loaded.source == reference.source
    assert loaded.combiner == reference.combiner
    assert loaded.projection is not None
    np.testing.assert_array_equal(loaded.projection.matrix, reference.projection.matrix)
    np.testing.assert_array_equal(loaded.search_vectors, reference.search_vectors)
    assert [p.name for p in tmp_path.iterdir()] == ["ref.npz"]  # no temporary file left behind
    with np.load(target, allow_pickle=False) as data:  # plain arrays: no pickles needed
        assert data["vectors"].dtype == np.float32


def test_load_refuses_missing_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        load_reference(tmp_path / "none.npz")
    np.savez(tmp_path / "other.npz", vectors=np.zeros((2, 2), dtype=np.float32))
    with pytest.raises(DataError, match="not a painter-match reference file"):
        load_reference(tmp_path / "other.npz")


def test_combiner_refuses_another_feature_set() -> None:
    record = TRUSTING.to_dict()
    assert Combiner.from_dict(json.loads(json.dumps(record))) == TRUSTING
    record["features"] = [*FEATURES[:-1], "something else"]
    with pytest.raises(ValueError, match="fit the reference again"):
        Combiner.from_dict(record)
    with pytest.raises(ValueError, match=rf"coefficients must be \[{len(FEATURES)}\]"):
        Combiner(coefficients=(1.0, 2.0))


def test_build_reference_from_embeddings_and_labels() -> None:
    vectors = unit(basis(4, (0, 1)), basis(4, (1, 1)), basis(4, (2, 1)))
    embeddings = embeddings_of(["a.jpg", "./sub/b.jpg", "c.jpg"], vectors)
    labels = {"a.jpg": "Claude Monet", "sub/b.jpg": "claude_monet", "c.jpg": "Édouard Manet"}
    reference = build_reference(embeddings, labels)
    assert reference.artists == ["Claude Monet", "Édouard Manet"]  # one artist, spelled as first met
    assert reference.artist_ids.tolist() == [0, 0, 1]
    assert reference.digests == [None, None, None]  # no folder to read
    assert reference.source == embeddings.source.identity
    with pytest.raises(ValueError, match=r"1 embedded paintings have no artist label \(first: 'c.jpg'\)"):
        build_reference(embeddings, {"a.jpg": "x", "sub/b.jpg": "y"})
    skipped = build_reference(embeddings, {"a.jpg": "x", "sub/b.jpg": "y"}, unlabelled="skip")
    assert skipped.paths == ["a.jpg", "./sub/b.jpg"]


def test_shapes_and_values_are_checked_with_the_expected_shape() -> None:
    rng = np.random.default_rng(0)
    reference = make_reference(random_units(rng, 10, 8), [0, 1] * 5, TRUSTING)
    with pytest.raises(ValueError, match=r"queries must be \[N, 8\], got shape \(3, 5\)"):
        neighbours(random_units(rng, 3, 5), reference, 2)
    with pytest.raises(ValueError, match=r"query_digests must be \[3\]"):
        neighbours(random_units(rng, 3, 8), reference, 2, query_digests=["a"])
    with pytest.raises(ValueError, match="k must be at least 1"):
        neighbours(random_units(rng, 3, 8), reference, 0)
    with pytest.raises(ValueError, match=r"reference vectors must be \[4, D\], got shape \(3, 8\)"):
        Reference(random_units(rng, 3, 8), np.zeros(4, np.int32), ["a"], list("abcd"), [None] * 4)
    with pytest.raises(ValueError, match=r"artist_ids must lie in \[0, 1\)"):
        Reference(random_units(rng, 2, 8), np.array([0, 1]), ["a"], ["x", "y"], [None, None])
    with pytest.raises(ValueError, match="NaN or infinity"):
        neighbours(np.full((1, 8), np.nan, dtype=np.float32), reference, 2)
    with pytest.raises(ValueError, match=r"both be \[Q, k\]"):
        artist_posterior(
            np.zeros((2, 3)), np.zeros((2, 4), int), reference, temperature=0.1, unknown_similarity=0.5
        )
    with pytest.raises(ValueError, match="temperature must be > 0"):
        artist_posterior(
            np.zeros((2, 3)), np.zeros((2, 3), int), reference, temperature=0.0, unknown_similarity=0.5
        )
    queries = random_units(rng, 4, 8)
    evidence = query_evidence(queries, reference)
    with pytest.raises(ValueError, match=r"must both be \[n\]"):
        score_pairs_with_reference(np.arange(3), np.arange(2), evidence, TRUSTING)
    with pytest.raises(ValueError, match=r"cosine must be \[2\]"):
        score_pairs_with_reference(np.arange(2), np.arange(2), evidence, TRUSTING, cosine=np.zeros(3))
    with pytest.raises(ValueError, match="no fitted combiner"):
        query_evidence(queries, make_reference(random_units(rng, 3, 8), [0, 1, 2]))
