"""``painter-match reference``, ``score --reference`` and ``verify --reference`` on tiny data."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from onnx_models import tiny_info, write_tiny_model
from PIL import Image
from reference_kit import TRUSTING, unit
from reference_kit import basis as basis_in

from painter_match.cli import main
from painter_match.data.views import Views
from painter_match.inference.embeddings import Embeddings, EmbeddingSource, load_embeddings, save_embeddings
from painter_match.inference.reference.set import (
    Reference,
    build_reference,
    file_digest,
    load_reference,
    save_reference,
)

D = 8


def basis(*parts: tuple[int, float]) -> list[float]:
    return basis_in(D, *parts)


def identity(dim: int = D, tag: str = "a") -> str:
    return EmbeddingSource(tiny_info(dim=dim, tag=tag), Views()).identity


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture()
def scene(tmp_path: Path) -> dict[str, Path]:
    """A hand-set reference and four test paintings, as files the CLI reads.

    Artist 0 painted in two directions (e0, e1); artists 1 and 2 one each (e4, e5). Test pair 0
    (a, b) is by artist 0 but far apart (cosine 0); test pair 1 (c, d) is by artists 1 and 2 but
    alike (cosine 0.39): cosine ranks them the wrong way round. Test painting e is, byte for byte,
    the reference's file r4.jpg (Dan's only painting), and its vector too.
    """
    folder = tmp_path / "test"
    folder.mkdir()
    for name in "abcde":
        (folder / f"{name}.jpg").write_bytes(f"painting {name}".encode())
    tests = unit(
        basis((0, 1), (2, 0.3)),
        basis((1, 1), (3, 0.3)),
        basis((4, 1), (6, 0.8)),
        basis((5, 1), (6, 0.8)),
        basis((7, 1)),
    )
    source = EmbeddingSource(tiny_info(dim=D), Views())
    save_embeddings(
        tmp_path / "test.npz",
        Embeddings(paths=[f"{n}.jpg" for n in "abcde"], vectors=tests, source=source, root=str(folder)),
    )
    reference = Reference(
        vectors=unit(basis((0, 1)), basis((1, 1)), basis((4, 1)), basis((5, 1)), basis((7, 1))),
        artist_ids=np.array([0, 0, 1, 2, 3], dtype=np.int32),
        artists=["Anna", "Ben", "Cleo", "Dan"],
        paths=[f"r{i}.jpg" for i in range(5)],
        digests=[None, None, None, None, file_digest(folder / "e.jpg")],
        source=identity(),
        combiner=TRUSTING,
    )
    save_reference(tmp_path / "ref.npz", reference)
    save_reference(tmp_path / "foreign.npz", Reference(**{**reference.__dict__, "source": identity(tag="b")}))
    (tmp_path / "pairs.csv").write_text("index,image1,image2\n0,a.jpg,b.jpg\n1,c.jpg,d.jpg\n2,e.jpg,a.jpg\n")
    (tmp_path / "solution.csv").write_text("index,sameArtist\n0,1\n1,0\n2,0\n")
    return {"root": tmp_path, "test": tmp_path / "test.npz", "ref": tmp_path / "ref.npz"}


def _scores(path: Path) -> list[float]:
    rows = path.read_text().splitlines()[1:]
    return [float(row.split(",")[1]) for row in rows]


def test_score_with_the_reference_decides_a_pair_cosine_gets_wrong(
    scene: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = scene["root"]
    base = ["score", str(root / "pairs.csv"), "--embeddings", str(scene["test"]), "-q"]
    assert _run([*base, "-o", str(root / "plain.csv")], capsys)[0] == 0
    plain = _scores(root / "plain.csv")
    assert plain[0] < plain[1]  # cosine alone: the different-artist pair looks more alike

    code, out, _ = _run(
        [
            *base,
            "-o",
            str(root / "ref.csv"),
            "--reference",
            str(scene["ref"]),
            "--solution",
            str(root / "solution.csv"),
        ],
        capsys,
    )
    assert code == 0
    scores = _scores(root / "ref.csv")
    assert scores[0] > 0.9 and scores[1] < 0.2  # the reference gets both right
    assert "ROC AUC 1.0000" in out
    # e.jpg is the reference's own r4.jpg (same bytes): found, reported, and no evidence for
    # itself: with its only artist's only painting left out it is a stranger to the reference.
    assert "1 of 5 test paintings found themselves or a near-duplicate" in out
    assert scores[2] < 0.2

    code, out, _ = _run(
        [*base, "-o", str(root / "ref.csv"), "--reference", str(scene["ref"]), "--force", "--json"], capsys
    )
    report = json.loads(out)["reference"]
    assert report["queries_with_same_file"] == 1 and report["queries_with_duplicates"] == 1
    assert report["paintings"] == 5 and report["artists"] == 4


def test_score_and_verify_move_the_reference_probabilities_to_the_prior(
    scene: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = scene["root"]
    base = ["score", str(root / "pairs.csv"), "--embeddings", str(scene["test"]), "-q"]
    # TRUSTING was set by hand: no share of same-artist pairs to move from.
    code, _, err = _run(
        [*base, "-o", str(root / "p.csv"), "--reference", str(scene["ref"]), "--prior", "0.1"], capsys
    )
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert f"{scene['ref']} records no share of same-artist pairs" in err and not (root / "p.csv").exists()

    fitted = load_reference(scene["ref"], source=identity(), fitted=True)
    assert fitted.combiner is not None
    save_reference(root / "even.npz", replace(fitted, combiner=replace(fitted.combiner, positive_share=0.5)))
    even = [*base, "--reference", str(root / "even.npz")]
    assert _run([*even, "-o", str(root / "even.csv")], capsys)[0] == 0
    assert _run([*even, "-o", str(root / "rare.csv"), "--prior", "0.1"], capsys)[0] == 0
    before, after = np.array(_scores(root / "even.csv")), np.array(_scores(root / "rare.csv"))
    np.testing.assert_allclose((after / (1 - after)) / (before / (1 - before)), 0.1 / 0.9, rtol=2e-3)
    assert (after < before).all() and before[0] > 0.9 and after[0] < before[0]


def test_a_reference_of_another_model_is_refused_in_one_line(
    scene: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = scene["root"]
    code, out, err = _run(
        [
            "score",
            str(root / "pairs.csv"),
            "--embeddings",
            str(scene["test"]),
            "-o",
            str(root / "out.csv"),
            "--reference",
            str(root / "foreign.npz"),
            "-q",
        ],
        capsys,
    )
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and "made from the embeddings of model" in err
    assert not (root / "out.csv").exists()


def test_reference_command_fits_from_a_folder_per_artist_tree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(5)
    artists, each, dim = 16, 10, 16
    centres = rng.standard_normal((artists, dim)).astype(np.float32)
    ids = np.repeat(np.arange(artists), each)
    vectors = centres[ids] + 0.5 * rng.standard_normal((len(ids), dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    tree = tmp_path / "train"
    paths = []
    for row, artist in enumerate(ids.tolist()):
        path = tree / f"painter_{artist}" / f"{row}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"painting {row}".encode())
        paths.append(path.relative_to(tree).as_posix())
    source = EmbeddingSource(tiny_info(dim=dim), Views())
    save_embeddings(
        tmp_path / "train.npz", Embeddings(paths=paths, vectors=vectors, source=source, root=str(tree))
    )
    out = tmp_path / "ref.npz"
    code, stdout, _ = _run(
        ["reference", str(tmp_path / "train.npz"), "--labels", str(tree), "-o", str(out), "-q", "--json"],
        capsys,
    )
    assert code == 0
    result = json.loads(stdout)
    assert result["paintings"] == artists * each and result["artists"] == artists
    assert result["combiner"]["pairs"] > 0 and "auc_cross_validated" in result["combiner"]["report"]
    reference = load_reference(out, source=source.identity, fitted=True)
    assert sorted(reference.artists) == sorted(f"painter_{a}" for a in range(artists))
    assert all(reference.digests)  # files were read, so a test painting that is one is recognised
    code, stdout, _ = _run(
        ["reference", str(tmp_path / "train.npz"), "--labels", str(tree), "-o", str(out)], capsys
    )
    assert code == 1  # exists: --force needed


def test_verify_prints_top_artists_and_leaves_itself_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = write_tiny_model(tmp_path / "tiny.onnx", info=tiny_info())
    rng = np.random.default_rng(0)
    tree = tmp_path / "train"
    for artist in ("anna", "ben"):
        (tree / artist).mkdir(parents=True)
        for i in range(3):
            pixels = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tree / artist / f"{i}.png")
    assert (
        _run(["embed", str(tree), "-o", str(tmp_path / "train.npz"), "-m", str(model), "-q"], capsys)[0] == 0
    )
    embeddings = load_embeddings(tmp_path / "train.npz")
    labels = {path: path.split("/")[0] for path in embeddings.paths}
    # The tiny model maps noise images close together: only the file's digest says "itself" here.
    reference = build_reference(embeddings, labels).fitted(replace(TRUSTING, near_duplicate=1.5), None)
    save_reference(tmp_path / "ref.npz", reference)
    first, second = tree / "anna" / "0.png", tree / "ben" / "1.png"
    code, out, err = _run(
        [
            "verify",
            str(first),
            str(second),
            "-m",
            str(model),
            "--reference",
            str(tmp_path / "ref.npz"),
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    result = json.loads(out)
    found = result["reference_artists"]
    assert len(found) == 2 and 0.0 <= result["probability"] <= 1.0
    # Each painting is itself in the reference (same file): left out of its own evidence.
    assert found[0]["excluded_as_itself"] == 1 and found[1]["excluded_as_itself"] == 1
    code, out, _ = _run(
        ["verify", str(first), str(second), "-m", str(model), "--reference", str(tmp_path / "ref.npz")],
        capsys,
    )
    assert code == 0 and "left out as this painting itself" in out and str(first) in out
    other = write_tiny_model(tmp_path / "other.onnx", info=tiny_info(tag="b"), seed=1)
    code, out, err = _run(
        ["verify", str(first), str(second), "-m", str(other), "--reference", str(tmp_path / "ref.npz")],
        capsys,
    )
    errors = [line for line in err.splitlines() if "error" in line]
    assert code == 1 and len(errors) == 1 and "made from the embeddings of model" in errors[0]


def test_the_api_scores_with_the_reference_as_the_cli_does(
    scene: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    import painter_match

    root = scene["root"]
    embeddings = painter_match.load_embeddings(scene["test"])
    reference = painter_match.load_reference(scene["ref"], source=embeddings.source.identity, fitted=True)
    summary = painter_match.score_pairs(
        root / "pairs.csv",
        root / "api.csv",
        names=embeddings.paths,
        vectors=embeddings.vectors,
        calibration=embeddings.source.info.calibration,
        reference=reference,
    )
    assert summary.pairs == 3
    base = ["score", str(root / "pairs.csv"), "--embeddings", str(scene["test"]), "-q"]
    assert _run([*base, "-o", str(root / "cli.csv"), "--reference", str(scene["ref"])], capsys)[0] == 0
    api, cli = _scores(root / "api.csv"), _scores(root / "cli.csv")
    assert api[:2] == cli[:2] and api[0] > 0.9 and api[1] < 0.2  # e.jpg's file digest only the CLI has


def test_model_same_artist_takes_a_reference(tmp_path: Path) -> None:
    import painter_match

    model_file = write_tiny_model(tmp_path / "tiny.onnx", info=tiny_info())
    rng = np.random.default_rng(1)
    tree = tmp_path / "train"
    for artist in ("anna", "ben"):
        (tree / artist).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(
                tree / artist / f"{i}.png"
            )
    model = painter_match.load(model_file)
    paths = [p.relative_to(tree).as_posix() for p in sorted(tree.rglob("*.png"))]
    vectors = model.embed([tree / p for p in paths])
    source = EmbeddingSource(model.info, model.info.views)
    embeddings = Embeddings(paths=paths, vectors=vectors, source=source, root=str(tree))
    labels = {p: p.split("/")[0] for p in paths}
    reference = build_reference(embeddings, labels).fitted(replace(TRUSTING, near_duplicate=1.5), None)
    save_reference(tmp_path / "ref.npz", reference)
    a, b = tree / "anna" / "0.png", tree / "ben" / "0.png"
    by_file = model.same_artist(a, b, reference=tmp_path / "ref.npz").probability
    assert 0.0 <= by_file <= 1.0
    assert by_file == pytest.approx(model.same_artist(a, b, reference=reference).probability)
    assert model.same_artist(a, b).probability == pytest.approx(
        model.info.calibration.probability(model.similarity(a, b))
    )
    with pytest.raises(painter_match.DataError, match="cannot be moved"):  # TRUSTING: set by hand, no share
        model.same_artist(a, b, reference=reference, prior=0.1)
    assert reference.combiner is not None
    even = replace(reference, combiner=replace(reference.combiner, positive_share=0.5))
    plain = model.same_artist(a, b, reference=even).probability
    rare = model.same_artist(a, b, reference=even, prior=0.1).probability
    assert (rare / (1 - rare)) / (plain / (1 - plain)) == pytest.approx(0.1 / 0.9, rel=1e-3)
    foreign = replace(reference, source="another model")
    with pytest.raises(painter_match.DataError, match="made from the embeddings of model"):
        model.same_artist(a, b, reference=foreign)
